"""Neural vocoders (HiFi-GAN): the task (``task.VocoderTask``), its data (``data.vocoder_data_spec``)
and the vocoder ``seqlab.load`` returns (``vocoding.Vocoder``, ``seqlab vocode``)."""
