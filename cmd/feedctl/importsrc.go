package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// record is one line (JSON Lines) or row (CSV) of an import file.
type record struct {
	// line is where the record starts, counting from 1.
	line int
	// raw is the record's content, part of the event id derived for it.
	raw []byte
	// feedback is the event to send, unless err says why the record
	// cannot be read: it is then rejected without a call.
	feedback *intakev1.Feedback
	err      error
}

// recordReader yields an import file's records in order; io.EOF ends them.
type recordReader interface {
	next() (record, error)
}

// jsonlReader reads one protojson Feedback per line; blank lines are skipped.
type jsonlReader struct {
	r    *bufio.Reader
	line int
}

func newJSONLReader(r io.Reader) *jsonlReader {
	return &jsonlReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// protojson's errors vary on purpose (a space or a no-break space after
// "proto:") and name the position in the line; both are noise here.
var (
	jsonPrefix   = regexp.MustCompile(`^proto:[\s\x{00a0}]*`)
	jsonPosition = regexp.MustCompile(`\s*\(line \d+:\d+\)`)
)

func (j *jsonlReader) next() (record, error) {
	for {
		b, err := j.r.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			return record{}, err // io.EOF, or a read error
		}
		j.line++
		b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\uFEFF")))
		if len(b) == 0 {
			continue
		}
		rec := record{line: j.line, raw: b, feedback: &intakev1.Feedback{}}
		if uerr := protojson.Unmarshal(b, rec.feedback); uerr != nil {
			// Without the noise the same mistake on many lines counts as
			// one reason.
			msg := jsonPosition.ReplaceAllString(jsonPrefix.ReplaceAllString(uerr.Error(), ""), "")
			rec.feedback, rec.err = nil, fmt.Errorf("not a Feedback in protojson: %s", msg)
		}
		return rec, nil
	}
}

// csvColumns are the CSV columns import understands, each setting one
// Feedback field from a non-empty cell.
var csvColumns = map[string]func(fb *intakev1.Feedback, v string, c clock) error{
	"customer_id": func(fb *intakev1.Feedback, v string, _ clock) error { fb.CustomerId = v; return nil },
	"event_id":    func(fb *intakev1.Feedback, v string, _ clock) error { fb.EventId = v; return nil },
	"occurred_at": func(fb *intakev1.Feedback, v string, c clock) error {
		ts, err := optionalTime(v, c)
		fb.OccurredAt = ts
		return err
	},
	"channel": func(fb *intakev1.Feedback, v string, _ clock) error {
		n, err := channels.parse(v)
		fb.Channel = intakev1.Channel(n)
		return err
	},
	"touchpoint": func(fb *intakev1.Feedback, v string, _ clock) error { fb.Touchpoint = v; return nil },
	"nps":        func(fb *intakev1.Feedback, v string, _ clock) error { return setInt(&fb.Nps, v) },
	"csat":       func(fb *intakev1.Feedback, v string, _ clock) error { return setInt(&fb.Csat, v) },
	"ces":        func(fb *intakev1.Feedback, v string, _ clock) error { return setInt(&fb.Ces, v) },
	"comment":    func(fb *intakev1.Feedback, v string, _ clock) error { comment(fb).Text = v; return nil },
	"language":   func(fb *intakev1.Feedback, v string, _ clock) error { comment(fb).Language = v; return nil },
	"complaint": func(fb *intakev1.Feedback, v string, _ clock) error {
		n, err := complaints.parse(v)
		complaint(fb).Category = intakev1.ComplaintCategory(n)
		return err
	},
	"complaint_text": func(fb *intakev1.Feedback, v string, _ clock) error { complaint(fb).Description = v; return nil },
	"order_id": func(fb *intakev1.Feedback, v string, _ clock) error {
		fb.Order = &intakev1.Order{OrderId: v}
		return nil
	},
}

// comment and complaint return fb's, made on first use: two columns fill
// each.
func comment(fb *intakev1.Feedback) *intakev1.Comment {
	if fb.Comment == nil {
		fb.Comment = &intakev1.Comment{}
	}
	return fb.Comment
}

func complaint(fb *intakev1.Feedback) *intakev1.Complaint {
	if fb.Complaint == nil {
		fb.Complaint = &intakev1.Complaint{}
	}
	return fb.Complaint
}

func csvColumnNames() []string {
	names := make([]string, 0, len(csvColumns))
	for n := range csvColumns {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func setInt(dst **int32, v string) error {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*dst = proto.Int32(int32(n))
	return nil
}

// csvReader reads feedback from CSV with a header row naming the columns.
type csvReader struct {
	r       *csv.Reader
	columns []string
	clock   clock // for dates without a zone and relative times
}

// newCSVReader reads the header. An unknown or repeated column is an error
// up front: guessing would import the wrong data.
func newCSVReader(r io.Reader, c clock) (*csvReader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a short row is that row's problem, not the file's
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: want a header row")
		}
		return nil, fmt.Errorf("header: %w", err)
	}
	columns := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		if _, ok := csvColumns[name]; !ok {
			return nil, fmt.Errorf("unknown column %q; the columns are %s", h, strings.Join(csvColumnNames(), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("column %q appears twice", name)
		}
		seen[name] = true
		columns[i] = name
	}
	return &csvReader{r: cr, columns: columns, clock: c}, nil
}

func (c *csvReader) next() (record, error) {
	for {
		row, err := c.r.Read()
		if err != nil {
			return record{}, err // io.EOF, or a syntax error that leaves the rest unreadable
		}
		line, _ := c.r.FieldPos(0)
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // a blank line
		}
		rec := record{line: line, raw: []byte(strings.Join(row, "\x1f")), feedback: &intakev1.Feedback{}}
		if len(row) != len(c.columns) {
			rec.feedback, rec.err = nil, fmt.Errorf("%d cells, want %d (one per column)", len(row), len(c.columns))
			return rec, nil
		}
		for i, v := range row {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if err := csvColumns[c.columns[i]](rec.feedback, v, c.clock); err != nil {
				rec.feedback, rec.err = nil, fmt.Errorf("%s: %v", c.columns[i], err)
				break
			}
		}
		return rec, nil
	}
}
