package datasource

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
)

// Granted gives a Source the shape the host functions ask for, to hand to a collector it is
// granted to.
func Granted(s *Source) hostfuncs.DataSource { return granted{s} }

type granted struct{ src *Source }

func (a granted) Query(ctx context.Context, sql string, params map[string]any, columns func([]hostfuncs.Column) error, row func([]any) error) error {
	err := a.src.Query(ctx, sql, params, func(cols []Column) error {
		out := make([]hostfuncs.Column, len(cols))
		for i, c := range cols {
			out[i] = hostfuncs.Column{Name: c.Name, Type: string(c.Type)}
		}
		return columns(out)
	}, row)
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%w: %w", hostfuncs.ErrResultTooLarge, err)
	}
	return err
}

func (a granted) StreamCSV(ctx context.Context, sql string, params map[string]any, w io.Writer) (int64, error) {
	return a.src.StreamCSV(ctx, sql, params, w)
}
