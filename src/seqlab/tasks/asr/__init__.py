"""CTC speech recognition: the task (``task.ASRTask``), Hugging Face fine-tuning (``hf.HFCTCTask``),
the recognizer ``seqlab.load`` returns (``recognizer.ASRModel``) and decoder tuning
(``tuning.tune_decoder``, ``seqlab tune-decoder``)."""
