"""Causal language modelling (GPT-2 style) for decoding: the task (``task.LMTask``). Its inference
object, the scorer CTC beam search fuses, lives with the decoders (``seqlab/decoding/``)."""
