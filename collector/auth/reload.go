package auth

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Results of reading a changed token file, as metric labels.
const (
	reloadOK      = "ok"
	reloadInvalid = "invalid"
)

// fileStamp tells a file's versions apart without reading it. The mode is
// part of it: a file made readable by others is refused at once. A Kubernetes
// Secret volume replaces the file behind a symlink (a new inode); an editor
// or a script rewrites it in place (a new size or modification time).
type fileStamp struct {
	dev, ino uint64
	size     int64
	mode     os.FileMode
	mtime    time.Time
	missing  bool
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{missing: true}
	}
	return stampOfInfo(fi)
}

func stampOfInfo(fi os.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mode: fi.Mode(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s
}

// WatchTokenFile checks path every period until ctx ends, and when the file
// changed, reads it and replaces the checker's tokens: a token added is
// accepted and a token removed refused from then on, without a restart. A
// file that cannot be read or is invalid (mid-rewrite, or mistyped) keeps
// the last good tokens; that is logged once per change and counted. Only a
// file's stamp is read while it stays the same, so polling costs one stat.
func (c *Checker) WatchTokenFile(ctx context.Context, path string, every time.Duration) {
	last := c.tokens.loaded
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := stampOf(path)
		if now == last {
			continue
		}
		last = now
		if err := c.reloadTokens(path); err != nil {
			c.reloads.WithLabelValues(reloadInvalid).Inc()
			c.log.Warn("token file changed but cannot be used; the last good tokens stay in force", "err", err)
			continue
		}
		c.reloads.WithLabelValues(reloadOK).Inc()
		c.log.Info("token file changed; its tokens are in force now", "file", path)
	}
}

// reloadTokens replaces the tokens with those of path, if it is valid.
func (c *Checker) reloadTokens(path string) error {
	t, err := LoadTokens(path)
	if err != nil {
		return fmt.Errorf("reload tokens: %w", err)
	}
	c.tokens.set.Store(t.set.Load())
	return nil
}
