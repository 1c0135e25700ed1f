// Package summary holds the rules that turn one pod's node events into its
// termination_summary: the phases, under the contract's names, the killed
// flag, the verdict and the exit codes; and, for the agent, when a
// termination is complete and where an unfinished one hangs.
//
// The agent's correlator folds each event into a Termination as it comes;
// the collector folds a pod's stored events, in time order, when its node
// sent no summary. Both sides therefore say the same of the same events.
// The package depends on the event contract only, never on the agent or
// the collector.
package summary
