"""Signal helpers for the plot-sine example."""

from .signals import rms, sine_wave, time_axis

__all__ = ["rms", "sine_wave", "time_axis"]
