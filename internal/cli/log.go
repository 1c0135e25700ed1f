package cli

import (
	"log/slog"
	"os"
	"strings"
)

// logLevels are the values --log-level accepts.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// Logger returns the text logger on stderr that the agent and the
// collector log through, at the level --log-level names.
func Logger(level string) (*slog.Logger, error) {
	l, ok := logLevels[strings.ToLower(level)]
	if !ok {
		return nil, Usagef("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
