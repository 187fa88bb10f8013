package engine

import "time"

// Observer is told what the engine measures as it happens: the web package
// exports it as Prometheus metrics. Its methods run on the workers' paths:
// they must be cheap and must not block. Labels it may derive are bounded:
// a connector id, a run or step status.
type Observer interface {
	// RunFinished is called once a run reached a final status; d runs
	// from its start (its creation when it never started) to its end.
	RunFinished(status RunStatus, d time.Duration)
	// StepFinished is called when an attempt of a step ended: succeeded,
	// failed, or retrying (failed with another attempt due).
	StepFinished(connector string, status StepStatus, d time.Duration)
	// RunsInProgress changes by delta when a worker starts (+1) or stops
	// (-1) advancing a run.
	RunsInProgress(delta int)
}

type nopObserver struct{}

func (nopObserver) RunFinished(RunStatus, time.Duration)           {}
func (nopObserver) StepFinished(string, StepStatus, time.Duration) {}
func (nopObserver) RunsInProgress(int)                             {}

// observer returns Config.Observer, or one that ignores everything.
func (e *Engine) observer() Observer {
	if e.cfg.Observer != nil {
		return e.cfg.Observer
	}
	return nopObserver{}
}

// observeRun reports a finished run and logs a failure (WARN, with the
// step that failed): the run's error is what its history shows, redacted.
func (e *Engine) observeRun(run *Run) {
	end := time.Now()
	if run.FinishedAt != nil {
		end = *run.FinishedAt
	}
	start := run.CreatedAt
	if run.StartedAt != nil {
		start = *run.StartedAt
	}
	e.observer().RunFinished(run.Status, end.Sub(start))
	if run.Status == RunFailed {
		e.log.Warn("run failed", "flow_id", run.FlowID, "run_id", run.ID, "step_id", run.ErrorStep, "err", run.Error)
	}
}

// observeStep reports a step attempt that ended.
func (e *Engine) observeStep(step *StepResult) {
	switch step.Status {
	case StepSucceeded, StepFailed, StepRetrying:
		e.observer().StepFinished(step.Use, step.Status, time.Duration(step.DurationMS*float64(time.Millisecond)))
	}
}
