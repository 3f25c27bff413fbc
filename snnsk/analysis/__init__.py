"""What a spiking network did: spike counts, operation counts and energy, scorers, callbacks, plots.

* :mod:`snnsk.analysis.spike_counts` — the one spike-counting engine;
* :mod:`snnsk.analysis.opcount` — synaptic operations and MACs per layer;
* :mod:`snnsk.analysis.metrics` — ``spike_report``, energy, scorers and the Pareto refit;
* :mod:`snnsk.analysis.callbacks` — skorch callbacks (firing-rate monitor, schedules);
* :mod:`snnsk.analysis.plotting` — rasters, firing rates, Pareto fronts.

Estimators are observed through their public ``run_inference``.
"""
