"""Audio I/O and DSP: soundfile decoding, resampling, torch STFT/iSTFT, mel filters, Griffin-Lim."""
