"""Keras model builders, one module per family (TensorFlow is imported only when a builder runs).

- :mod:`helpers.models.spotify` — the report's dense / 1D-CNN / RNN networks on 12 Spotify features (chapter 1)
- :mod:`helpers.models.mfcc` — the report's CNN and LSTM on MFCC segments (chapters 6 and 7)
- :mod:`helpers.models.beyond` — fusion and log-mel networks (chapter 9)
"""
