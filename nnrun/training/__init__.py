"""Stage 3, training: ``prepare`` (the data read, split and encoded, as a typed ``Prepared``), ``run``
(``train_one``: build, dry run, fit, save, reload check — used by train, resume and every cv fold), ``fit``,
``pipeline`` (tf.data), ``callbacks`` (Keras Callback classes), ``checkpoint``, ``checks``, ``records``,
``targets``, ``crossval`` and ``build`` (config -> Keras model)."""
