package hostfuncs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// rowsCursor is one db_query_rows result being read by the guest a page at a time. The query runs
// in its own goroutine, which encodes rows into pages and hands them over through a channel of one:
// the database and the guest work in parallel, and at most three pages (one filling, one waiting,
// one with the guest) exist at a time, whatever the number of rows.
type rowsCursor struct {
	pages  chan []byte // the header first, then pages; closed when the query ends
	free   chan []byte // page buffers the guest is done with, for reuse
	cancel context.CancelFunc
	err    error  // why the query ended, set before pages is closed
	header []byte // the column header, for db_result
	page   []byte // a page received but not yet copied (it did not fit the guest's buffer)
	ended  bool   // pages is closed and drained
}

// errPageHandedOver stops a query whose cursor was abandoned (a newer db_query_rows, or the
// invocation's end): nobody reads its pages any more.
var errPageHandedOver = errors.New("cursor closed")

// dbQueryRows implements db_query_rows: see ABI.md "db_query_rows".
func dbQueryRows(ctx context.Context, m api.Module, stack []uint64) {
	checkContext(ctx)
	inv := invocationFrom(ctx)
	const fn = abi.FuncDBQueryRows
	lenOut := api.DecodeU32(stack[6])
	inv.closeRows()
	inv.dbResult = nil
	src, sql, params, st := inv.dbArgs(m, fn, stack)
	if st != abi.OK {
		stack[0] = uint64(st)
		return
	}
	// The query outlives this call but not the invocation: the context of the guest's call ends
	// when the invocation does, and closeRows ends it sooner.
	qctx, cancel := context.WithCancel(ctx)
	c := &rowsCursor{pages: make(chan []byte, 1), free: make(chan []byte, 2), cancel: cancel}
	go c.run(qctx, src, sql, params)
	header, ok := c.receive(ctx)
	if !ok {
		cancel()
		if c.err == nil {
			c.err = errors.New("the statement returned no columns")
		}
		stack[0] = uint64(inv.queryFailed(c.err))
		return
	}
	c.header = header
	inv.rows, inv.dbResult = c, header
	writeU32(m, fn, lenOut, uint32(len(header)))
	stack[0] = uint64(abi.OK)
}

// queryFailed records a failed query for last_error and returns its status.
func (inv *Invocation) queryFailed(err error) abi.Status {
	st := abi.QueryFailed
	if errors.Is(err, ErrResultTooLarge) {
		st = abi.TooLarge
	}
	_, _, _, st = inv.dbFail(st, "%v", err)
	return st
}

// closeRows abandons the current cursor, if any; its query stops at its next row.
func (inv *Invocation) closeRows() {
	if inv.rows != nil {
		inv.rows.cancel()
		inv.rows = nil
	}
}

// dbRowsNext implements db_rows_next: see ABI.md "db_rows_next".
func dbRowsNext(ctx context.Context, m api.Module, stack []uint64) {
	checkContext(ctx)
	inv := invocationFrom(ctx)
	const fn = abi.FuncDBRowsNext
	buf, capacity, lenOut := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	c := inv.rows
	if c == nil {
		stack[0] = uint64(abi.NotFound)
		return
	}
	if c.page == nil && !c.ended {
		page, ok := c.receive(ctx)
		if !ok {
			c.ended = true
			c.cancel()
		}
		c.page = page
	}
	if c.ended && c.page == nil {
		if c.err != nil {
			stack[0] = uint64(inv.queryFailed(c.err))
			return
		}
		writeU32(m, fn, lenOut, 0)
		stack[0] = uint64(abi.OK)
		return
	}
	writeU32(m, fn, lenOut, uint32(len(c.page)))
	if uint32(len(c.page)) > capacity {
		stack[0] = uint64(abi.BufferTooSmall)
		return
	}
	writeBytes(m, fn, buf, c.page)
	select {
	case c.free <- c.page[:0]:
	default:
	}
	c.page = nil
	stack[0] = uint64(abi.OK)
}

// receive waits for the next page; false when the query has ended (c.err says how).
func (c *rowsCursor) receive(ctx context.Context) ([]byte, bool) {
	select {
	case p, ok := <-c.pages:
		return p, ok
	case <-ctx.Done():
		checkContext(ctx)
		return nil, false
	}
}

// run is the cursor's goroutine: it runs the query and hands over the header, then full pages.
func (c *rowsCursor) run(ctx context.Context, src DataSource, sql string, params map[string]any) {
	defer close(c.pages)
	var page []byte
	rows := uint32(0)
	send := func(p []byte) error {
		select {
		case c.pages <- p:
			return nil
		case <-ctx.Done():
			return errPageHandedOver
		}
	}
	err := src.Query(ctx, sql, params, func(cols []Column) error {
		header := binary.LittleEndian.AppendUint32(nil, uint32(len(cols)))
		for _, col := range cols {
			header = append(header, columnTag(col.Type))
			header = binary.LittleEndian.AppendUint32(header, uint32(len(col.Name)))
			header = append(header, col.Name...)
		}
		page = make([]byte, 4, abi.RowsPageBytes+abi.RowsPageBytes/4)
		return send(header)
	}, func(row []any) error {
		for _, v := range row {
			var err error
			if page, err = appendRowValue(page, v); err != nil {
				return err
			}
		}
		rows++
		if len(page) < abi.RowsPageBytes {
			return nil
		}
		binary.LittleEndian.PutUint32(page, rows)
		if err := send(page); err != nil {
			return err
		}
		select {
		case page = <-c.free:
		default:
			page = make([]byte, 0, abi.RowsPageBytes+abi.RowsPageBytes/4)
		}
		page, rows = append(page, 0, 0, 0, 0), 0
		return nil
	})
	if err == nil && rows > 0 {
		binary.LittleEndian.PutUint32(page, rows)
		err = send(page)
	}
	c.err = err
}

// columnTag is the header's type byte for a column type.
func columnTag(typ string) byte {
	switch typ {
	case "int":
		return abi.TagInt
	case "float":
		return abi.TagFloat
	case "bool":
		return abi.TagBool
	case "timestamp":
		return abi.TagTimestamp
	case "bytes":
		return abi.TagBytes
	default:
		return abi.TagText
	}
}

// appendRowValue appends one value in the row encoding of ABI.md "Row pages".
func appendRowValue(b []byte, v any) ([]byte, error) {
	out, ok := abi.AppendRowValue(b, v)
	switch {
	case ok:
		return out, nil
	case isString(v):
		return b, fmt.Errorf("%w: a value over 4 GiB", ErrResultTooLarge)
	}
	return b, fmt.Errorf("unexpected value type %T from the data source", v)
}

func isString(v any) bool {
	switch v.(type) {
	case string, []byte:
		return true
	}
	return false
}
