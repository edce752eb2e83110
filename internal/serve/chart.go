package serve

import (
	"fmt"
	"sort"
	"strings"

	"github.com/wasmcollector/wasmcollector/gather"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 640.0, 160.0
	chartPad       = 4.0
)

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// chartData is a line chart of one value per collector over the recent gathers, drawn by the
// template as inline SVG (no script, no CDN).
type chartData struct {
	Title  string
	Max    int64
	Lines  []chartLine
	W, H   float64
	Points int
}

type chartLine struct {
	Key, Color, Points string
	Last               int64
}

// chart draws value per collector over hist (newest first), oldest on the left.
func chart(hist []*Record, value func(*gather.CollectorResult) int64, title string) *chartData {
	var recs []*Record
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Result != nil {
			recs = append(recs, hist[i])
		}
	}
	if len(recs) == 0 {
		return nil
	}
	series := map[string][]int64{}
	var max int64
	for i, r := range recs {
		for _, c := range r.Result.Collectors {
			s := series[c.Key]
			if s == nil {
				s = make([]int64, len(recs))
				series[c.Key] = s
			}
			s[i] += value(c)
			max = maxInt(max, s[i])
		}
	}
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := &chartData{Title: title, Max: max, W: chartW, H: chartH, Points: len(recs)}
	for n, k := range keys {
		var pts []string
		for i, v := range series[k] {
			x := chartPad + (chartW-2*chartPad)/2
			if len(recs) > 1 {
				x = chartPad + float64(i)*(chartW-2*chartPad)/float64(len(recs)-1)
			}
			y := chartH - chartPad
			if max > 0 {
				y -= float64(v) / float64(max) * (chartH - 2*chartPad)
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		if len(pts) == 1 { // one gather: a flat line across, so that it shows
			_, y, _ := strings.Cut(pts[0], ",")
			pts = []string{fmt.Sprintf("%.1f,%s", chartPad, y), fmt.Sprintf("%.1f,%s", chartW-chartPad, y)}
		}
		s := series[k]
		d.Lines = append(d.Lines, chartLine{Key: k, Color: palette[n%len(palette)], Points: strings.Join(pts, " "), Last: s[len(s)-1]})
	}
	return d
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
