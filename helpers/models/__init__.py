"""Model builders, one module per family.

- :mod:`helpers.models.spotify` — chapter 1's networks on the Spotify table's audio features (a dense
  network, and the 1D CNN and recurrent networks of the report's kinds), fed the report's 11 features
  or all 12 (with ``loudness``); importing it imports TensorFlow/Keras
- :mod:`helpers.models.mfcc` — the report's CNN and LSTM on MFCC segments (chapters 6 and 7)
- :mod:`helpers.models.other_inputs` — fusion and log-mel networks (chapter 9)
- :mod:`helpers.models.classical` — MFCC summary statistics + logistic regression (chapter 8;
  scikit-learn only)
- :mod:`helpers.models.probe` — a linear probe (logistic regression) on pretrained musicnn embeddings,
  chosen by nested cross-validation (chapter 10; scikit-learn only)

``mfcc`` and ``other_inputs`` import TensorFlow/Keras only when a builder runs.
"""

from helpers.backend import require_chapters

# Every model family needs the chapters' stack (TensorFlow and Keras, scikit-learn).
require_chapters(__name__, ("tensorflow", "keras", "sklearn", "pandas", "scipy"))
