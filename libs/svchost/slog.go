package svchost

import (
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogHandler sends qbipc's slog records (client accepted, refused,
// dropped for not reading its events) to the daemon's hclog logger.
type hclogHandler struct{ l hclog.Logger }

func (h hclogHandler) Enabled(_ context.Context, lv slog.Level) bool {
	switch {
	case lv >= slog.LevelError:
		return h.l.IsError()
	case lv >= slog.LevelWarn:
		return h.l.IsWarn()
	case lv >= slog.LevelInfo:
		return h.l.IsInfo()
	}
	return h.l.IsDebug()
}

func (h hclogHandler) Handle(_ context.Context, r slog.Record) error {
	args := make([]any, 0, 2*r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, a.Key, a.Value.Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.l.Error(r.Message, args...)
	case r.Level >= slog.LevelWarn:
		h.l.Warn(r.Message, args...)
	case r.Level >= slog.LevelInfo:
		h.l.Info(r.Message, args...)
	default:
		h.l.Debug(r.Message, args...)
	}
	return nil
}

func (h hclogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	args := make([]any, 0, 2*len(as))
	for _, a := range as {
		args = append(args, a.Key, a.Value.Any())
	}
	return hclogHandler{h.l.With(args...)}
}

func (h hclogHandler) WithGroup(name string) slog.Handler { return hclogHandler{h.l.Named(name)} }
