package collector

import (
	"errors"
	"math"
	"math/big"
	"net/netip"
	"testing"
	"time"
)

type kind string

type point struct{ X, Y int }

type ptrStringer struct{ n int }

func (p *ptrStringer) String() string { return "ptr" }

func TestAppendValue(t *testing.T) {
	s := "text"
	n := 42
	a, b := 0.1, 0.2
	var nilInt *int
	var nilBig *big.Int
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tsCET := time.Date(2025, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		v    any
		want field
	}{
		{"nil", nil, null},
		{"string", "a, \"b\"", txt("a, \"b\"")},
		{"empty string", "", txt("")},
		{"bytes", []byte("raw"), txt("raw")},
		{"nil bytes", []byte(nil), txt("")},
		{"int", -12, txt("-12")},
		{"int8", int8(-128), txt("-128")},
		{"int16", int16(32767), txt("32767")},
		{"int32", int32(-5), txt("-5")},
		{"int64", int64(math.MinInt64), txt("-9223372036854775808")},
		{"uint", uint(7), txt("7")},
		{"uint8", uint8(255), txt("255")},
		{"uint16", uint16(65535), txt("65535")},
		{"uint32", uint32(4294967295), txt("4294967295")},
		{"uint64", uint64(math.MaxUint64), txt("18446744073709551615")},
		{"uintptr", uintptr(9), txt("9")},
		{"float64", 1.5, txt("1.5")},
		{"float64 shortest", a + b, txt("0.30000000000000004")},
		{"float64 large", 1e21, txt("1e+21")},
		{"float64 integral", 3.0, txt("3")},
		{"float64 NaN", math.NaN(), txt("NaN")},
		{"float64 +Inf", math.Inf(1), txt("+Inf")},
		{"float32", float32(0.1), txt("0.1")},
		{"bool true", true, txt("true")},
		{"bool false", false, txt("false")},
		{"time UTC", ts, txt("2025-03-01T12:00:00Z")},
		{"time other zone in UTC with nanos", tsCET, txt("2025-03-01T12:00:00.123456789Z")},
		{"time millis trimmed", ts.Add(250 * time.Millisecond), txt("2025-03-01T12:00:00.25Z")},
		{"stringer", netip.MustParseAddr("10.0.0.1"), txt("10.0.0.1")},
		{"duration stringer", 90 * time.Second, txt("1m30s")},
		{"named string", kind("smart"), txt("smart")},
		{"struct", point{1, 2}, txt("{1 2}")},
		{"error", errors.New("boom"), txt("boom")},
		{"struct pointer", &point{3, 4}, txt("{3 4}")},
		{"pointer to string", &s, txt("text")},
		{"pointer to int", &n, txt("42")},
		{"pointer to time", &ts, txt("2025-03-01T12:00:00Z")},
		{"nil pointer", nilInt, null},
		{"nil stringer pointer", nilBig, null},
		{"pointer-receiver stringer", &ptrStringer{}, txt("ptr")},
		{"big int", big.NewInt(1234567890123), txt("1234567890123")},
		{"pointer to pointer", &[]*int{&n}[0], txt("42")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, isNull := appendValue([]byte("prefix"), tt.v)
			got := field{Null: isNull, Text: string(b[len("prefix"):])}
			if isNull && string(b) != "prefix" {
				t.Fatalf("NULL appended %q", b)
			}
			if got != tt.want {
				t.Fatalf("appendValue(%#v) = %v, want %v", tt.v, got, tt.want)
			}
			// The same value through the writer.
			w, rec := newTestCSV(t, BatchSize, "v")
			if err := w.Values(tt.v); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			rows, err := rec.allRows()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != tt.want {
				t.Fatalf("Values(%#v) wrote %v, want %v", tt.v, rows, tt.want)
			}
		})
	}
}
