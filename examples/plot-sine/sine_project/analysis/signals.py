import numpy as np


def time_axis(duration_s: float, sample_rate_hz: float) -> np.ndarray:
    """Sample times from 0 (inclusive) to duration_s (exclusive)."""
    n_samples = round(duration_s * sample_rate_hz)
    return np.arange(n_samples) / sample_rate_hz


def sine_wave(
    t: np.ndarray, frequency_hz: float, amplitude: float = 1.0, phase_rad: float = 0.0
) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency_hz * t + phase_rad)


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(signal))))
