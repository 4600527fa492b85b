package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// table renders rows in aligned columns under upper-case headers.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// render writes the table; tabs and newlines inside cells become spaces so
// a comment cannot break the columns.
func (t *table) render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	line := func(cells []string) {
		for i, c := range cells {
			cells[i] = clean.Replace(c)
		}
		fmt.Fprintln(tw, strings.TrimRight(strings.Join(cells, "\t"), "\t "))
	}
	line(append([]string(nil), t.header...))
	for _, r := range t.rows {
		line(r)
	}
	return tw.Flush()
}

// fields renders "Name:  value" lines for one object, aligned; empty values
// are left out.
type fields struct{ rows [][2]string }

func (f *fields) add(name, value string) {
	if value != "" {
		f.rows = append(f.rows, [2]string{name, value})
	}
}

func (f *fields) render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range f.rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], strings.ReplaceAll(r[1], "\n", " "))
	}
	return tw.Flush()
}

// jsonOut emits every field, so scripts need not know the defaults.
var jsonOut = protojson.MarshalOptions{EmitUnpopulated: true}

// printJSON writes m as indented protojson. protojson varies its spacing
// on purpose; json.Indent makes the layout the same on every run.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// printJSONLine writes m as one line of protojson (JSON Lines).
func printJSONLine(w io.Writer, m proto.Message) error {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// clock formats times for tables in one location.
type clock struct {
	now func() time.Time
	loc *time.Location
}

// at formats a timestamp to the minute; unset is "".
func (c clock) at(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().In(c.loc).Format("2006-01-02 15:04")
}

// atSeconds formats a timestamp to the second.
func (c clock) atSeconds(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().In(c.loc).Format("2006-01-02 15:04:05")
}

// due says how far a deadline is: "in 45m" or "overdue 2h10m".
func (c clock) due(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	d := ts.AsTime().Sub(c.now())
	if d < 0 {
		return "overdue " + humanDuration(-d)
	}
	return "in " + humanDuration(d)
}

// humanDuration rounds d to its two largest units: "3d4h", "2h10m",
// "1m30s", "45s". Rounding comes first, so 59m59.7s is "1h", not "60m".
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	pair := func(a time.Duration, unitA string, b time.Duration, unitB string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, unitA)
		}
		return fmt.Sprintf("%d%s%d%s", a, unitA, b, unitB)
	}
	switch r := d.Round(time.Second); {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", max(1, d.Milliseconds()))
	case r < time.Minute:
		return fmt.Sprintf("%ds", r/time.Second)
	case r < time.Hour:
		return pair(r/time.Minute, "m", r%time.Minute/time.Second, "s")
	}
	if r := d.Round(time.Minute); r < day {
		return pair(r/time.Hour, "h", r%time.Hour/time.Minute, "m")
	}
	r := d.Round(time.Hour)
	return pair(r/day, "d", r%day/time.Hour, "h")
}

// span formats a proto duration; unset is "-".
func span(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return humanDuration(d.AsDuration())
}

// num formats a float with one decimal; opt formats an optional one, "-"
// when absent.
func num(f float64) string { return fmt.Sprintf("%.1f", f) }

func opt(f *float64) string {
	if f == nil {
		return "-"
	}
	return num(*f)
}

// signed formats with an explicit sign, for gaps and trends.
func signed(f float64) string {
	if math.Abs(f) < 0.05 {
		return "0.0"
	}
	return fmt.Sprintf("%+.1f", f)
}

// pct formats a 0–1 share as a percentage, with a decimal below 10% so
// a small share does not read as none.
func pct(f float64) string {
	if p := f * 100; p > 0 && p < 0.05 {
		return "<0.1%"
	} else if p > 0 && p < 9.95 {
		return fmt.Sprintf("%.1f%%", p)
	}
	return fmt.Sprintf("%.0f%%", f*100)
}

// truncate shortens s to n runes with an ellipsis, for wide columns.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
