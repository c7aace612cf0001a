"""The recipe of the shipped default model (``dmsil/default_model/``): its data, teachers, training and card.

    .venv/bin/python -m scripts.default_model.train [--encoder mpnet] [--out dmsil/default_model]
    .venv/bin/python -m scripts.default_model.card  [--out dmsil/default_model]   # the card alone, again

It lives outside ``dmsil`` because it is one recipe, not the research library: only data that packages
carry (:mod:`.packaged`, :mod:`.sentences`, :mod:`.everyday`), an LLM teacher for unlabelled lines
(:mod:`.teacher`), spoken copies (:mod:`.spoken`), the sentences and face clips of one run
(:mod:`.corpus`, :mod:`.faces`), the frozen-state cache (:mod:`.text_cache`), the training on
:func:`dmsil.train.fit` (:mod:`.fit`), the held-out results (:mod:`.held_out`) and the card
(:mod:`.card`). ``dmsil``, ``engines`` and ``realtime`` never import it.
"""
