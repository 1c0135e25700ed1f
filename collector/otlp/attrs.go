package otlp

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// prefix is where graceline's own attributes live; the rest follow the
// OpenTelemetry semantic conventions.
const prefix = "graceline."

func gl(name string) attribute.Key { return attribute.Key(prefix + name) }

// podAttrs names the pod and its node in the semantic conventions.
func podAttrs(s *apiv1.Event) []attribute.KeyValue {
	var out []attribute.KeyValue
	if p := s.GetPod(); p != nil {
		out = append(out, semconv.K8SPodUID(p.GetUid()), semconv.K8SPodName(p.GetName()), semconv.K8SNamespaceName(p.GetNamespace()))
	}
	if n := s.GetNode(); n != "" {
		out = append(out, semconv.K8SNodeName(n))
	}
	return out
}

// containerAttrs names a container.
func containerAttrs(c *apiv1.ContainerRef) []attribute.KeyValue {
	var out []attribute.KeyValue
	if c.GetName() != "" {
		out = append(out, semconv.K8SContainerName(c.GetName()))
	}
	if c.GetId() != "" {
		out = append(out, semconv.ContainerID(c.GetId()))
	}
	return out
}

// eventAttrs is what a span event carries of one of the pod's events: the
// process in the semantic conventions (for a signal, its target), and the
// rest (the signal, its sender, the kernel's result, the disposition, exit
// status, paths, Services) under graceline's prefix.
func eventAttrs(e *apiv1.Event) []attribute.KeyValue {
	out := containerAttrs(e.GetContainer())
	if p := e.GetProcess(); p != nil {
		out = append(out, semconv.ProcessPID(int(p.GetPid())))
		if p.GetComm() != "" {
			out = append(out, semconv.ProcessCommand(p.GetComm()))
		}
		if len(p.GetArgv()) > 0 {
			out = append(out, semconv.ProcessCommandArgs(p.GetArgv()...))
		}
	}
	if t := e.GetTarget(); t != nil {
		out = append(out, semconv.ProcessPID(int(t.GetPid())), gl("target.tid").Int(int(t.GetTid())))
		if t.GetComm() != "" {
			out = append(out, semconv.ProcessCommand(t.GetComm()))
		}
	}
	if s := e.GetSignal(); s != nil {
		out = append(out, gl("signal.name").String(apiv1.SignalName(s.GetNumber())), gl("signal.number").Int(int(s.GetNumber())))
		if s.GetResult() != "" {
			out = append(out, gl("signal.result").String(s.GetResult()))
		}
	}
	if s := e.GetSender(); s != nil {
		out = append(out, gl("sender.pid").Int(int(s.GetPid())), gl("sender.comm").String(s.GetComm()))
		if s.GetContainerId() != "" {
			out = append(out, gl("sender.container_id").String(s.GetContainerId()))
		}
		if s.GetKernel() != "" {
			out = append(out, gl("sender.kernel").String(s.GetKernel()))
		}
	}
	if d := e.GetDisposition(); d != "" {
		out = append(out, gl("disposition").String(d))
	}
	if e.ExitCode != nil {
		out = append(out, semconv.ProcessExitCode(int(e.GetExitCode())))
	}
	if e.ExitSignal != nil {
		out = append(out, gl("exit_signal").String(apiv1.SignalName(e.GetExitSignal())))
	}
	if r := e.GetReason(); r != "" {
		out = append(out, gl("reason").String(r))
	}
	if p := e.GetPath(); p != "" {
		out = append(out, gl("path").String(p))
	}
	if s := e.GetService(); s != "" {
		out = append(out, gl("service").String(s), gl("endpoint_slice").String(e.GetEndpointSlice()))
	}
	if f := e.GetFinalizers(); len(f) > 0 {
		out = append(out, gl("finalizers").StringSlice(f))
	}
	if b := e.GetBlockingPhase(); b != "" {
		out = append(out, gl("blocking_phase").String(b))
	}
	if e.GetSource() != "" {
		out = append(out, gl("source").String(e.GetSource()))
	}
	return out
}
