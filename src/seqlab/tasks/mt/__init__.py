"""Neural machine translation: the task (``task.MTTask``) and the translator ``seqlab.load``
returns (``translator.Translator``, ``seqlab translate``)."""
