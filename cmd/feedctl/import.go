package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

const maxBatch = 500 // SubmitFeedbackBatch's limit

func (a *app) importCmd() *cobra.Command {
	var (
		format string
		batch  int
		resume bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import feedback from a JSON Lines or CSV file",
		Long: `Import feedback events from FILE ("-" for standard input), in batches.

JSON Lines: one Feedback per line in protojson, as grpcurl writes it, e.g.
  {"customerId": "c-1", "channel": "CHANNEL_APP", "nps": 3, "touchpoint": "delivery"}
CSV: a header row naming the columns, any of
  ` + strings.Join(csvColumnNames(), ", ") + `
with channel and complaint as short names (app, delivery) and occurred_at in
RFC 3339; empty cells are left out.

The format follows the file's extension (.jsonl, .ndjson, .json or .csv) or
--format. A line without an event id gets one derived from the file's name,
the line number and the line's content, so importing a file again never
stores an event twice. The last line done is recorded in FILE.feedctl-progress;
--resume continues after it. Progress goes to stderr; the summary of
accepted, duplicate and rejected lines, with the reasons, to stdout.
An import with rejected lines exits with 4.`,
		Example: `  feedctl import survey.jsonl
  feedctl import --resume survey.jsonl
  feedctl import --format csv --batch 200 - < export.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch < 1 || batch > maxBatch {
				return usagef("--batch %d: want 1 to %d", batch, maxBatch)
			}
			return a.runImport(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], format, batch, resume)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "jsonl or csv (default: from the file's extension)")
	cmd.Flags().IntVar(&batch, "batch", maxBatch, "events per call, at most 500")
	cmd.Flags().BoolVar(&resume, "resume", false, "skip the lines a previous import of FILE completed")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("jsonl", "csv"))
	return cmd
}

// importFormat picks the format from --format or the file's extension.
func importFormat(path, flag string) (string, error) {
	switch strings.ToLower(flag) {
	case "jsonl", "ndjson", "json":
		return "jsonl", nil
	case "csv":
		return "csv", nil
	case "":
	default:
		return "", fmt.Errorf("--format %q: want jsonl or csv", flag)
	}
	if path == "-" {
		return "", errors.New("standard input has no extension: give --format jsonl or --format csv")
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	case ".csv":
		return "csv", nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension: give --format jsonl or --format csv", path)
}

func (a *app) runImport(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, path, formatFlag string, batch int, resume bool) error {
	fromStdin := path == "-"
	if fromStdin && resume {
		return usagef("--resume needs a file: standard input cannot be read again")
	}
	format, err := importFormat(path, formatFlag)
	if err != nil {
		return usageError{err}
	}
	in, name := stdin, "stdin"
	var size int64
	if !fromStdin {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		in, name = f, filepath.Base(path)
	}
	counted := &countingReader{r: in}

	var src recordReader = newJSONLReader(counted)
	if format == "csv" {
		if src, err = newCSVReader(counted, a.clock); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}

	var state *progressFile
	skip := 0
	if !fromStdin {
		state = &progressFile{path: path + ".feedctl-progress", file: name}
		last, err := state.load()
		if err != nil {
			return err
		}
		switch {
		case resume && last == 0:
			fmt.Fprintf(stderr, "%s: no progress recorded, starting at line 1\n", name)
		case resume:
			skip = last
			fmt.Fprintf(stderr, "%s: resuming after line %d\n", name, last)
		case last > 0:
			fmt.Fprintf(stderr, "%s: a previous import got to line %d; starting at line 1 (--resume continues there; repeated events count as duplicates)\n", name, last)
		}
	}

	svc, err := a.intake()
	if err != nil {
		return err
	}
	im := &importer{
		send: func(ctx context.Context, items []*intakev1.Feedback) (*intakev1.SubmitFeedbackBatchResponse, error) {
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			return svc.SubmitFeedbackBatch(ctx, &intakev1.SubmitFeedbackBatchRequest{Items: items})
		},
		name:     name,
		batch:    batch,
		state:    state,
		now:      a.clock.now,
		progress: newProgress(stderr, name, size, counted, a.progressEvery),
		retries:  5,
		backoff:  500 * time.Millisecond,
	}
	sum, runErr := im.run(ctx, src, skip)
	im.progress.done()
	if err := a.printSummary(stdout, sum); err != nil {
		return err
	}
	switch {
	case errors.Is(runErr, context.Canceled) && state != nil:
		return interrupted(fmt.Sprintf("interrupted after line %d: run again with --resume to continue", sum.LastLine))
	case errors.Is(runErr, context.Canceled):
		return interrupted(fmt.Sprintf("interrupted after line %d", sum.LastLine))
	case runErr != nil:
		if state != nil {
			fmt.Fprintf(stderr, "stopped after line %d: run again with --resume to continue\n", sum.LastLine)
		}
		return runErr
	case sum.Rejected > 0:
		return rejectedError{sum.Rejected}
	}
	return nil
}

// importer sends records in batches and keeps the tally.
type importer struct {
	send     func(context.Context, []*intakev1.Feedback) (*intakev1.SubmitFeedbackBatchResponse, error)
	name     string // the file's base name, part of derived event ids
	batch    int
	state    *progressFile // nil: nothing recorded (standard input)
	now      func() time.Time
	progress *progress
	// retries and backoff bound the retries of a batch, or of its items,
	// that could not be stored now (UNAVAILABLE).
	retries int
	backoff time.Duration
}

// importSummary is the outcome of one import run.
type importSummary struct {
	File      string         `json:"file"`
	Read      int            `json:"read"`    // records read in this run
	Skipped   int            `json:"skipped"` // records skipped by --resume
	Accepted  int            `json:"accepted"`
	Duplicate int            `json:"duplicate"`
	Rejected  int            `json:"rejected"`
	Reasons   []*reasonTally `json:"reasons"`
	// LastLine is the last line completed: a resume starts after it.
	LastLine int `json:"lastLine"`
}

// reasonTally counts the records rejected for one reason.
type reasonTally struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
	// Lines are the first few lines rejected for it.
	Lines []int `json:"lines"`
}

const reasonLines = 5

func (s *importSummary) reject(line int, reasons []string) {
	s.Rejected++
	for _, r := range reasons {
		i := slices.IndexFunc(s.Reasons, func(t *reasonTally) bool { return t.Reason == r })
		if i < 0 {
			s.Reasons = append(s.Reasons, &reasonTally{Reason: r})
			i = len(s.Reasons) - 1
		}
		t := s.Reasons[i]
		t.Count++
		if len(t.Lines) < reasonLines {
			t.Lines = append(t.Lines, line)
		}
	}
}

// run reads every record after line skip and sends them. It stops at the
// first error it cannot retry, or between batches when ctx is cancelled,
// always with the tally so far and the progress recorded.
func (im *importer) run(ctx context.Context, src recordReader, skip int) (*importSummary, error) {
	sum := &importSummary{File: im.name, LastLine: skip, Reasons: []*reasonTally{}}
	var pending []record
	sendable := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := im.sendBatch(ctx, pending, sum)
		pending, sendable = pending[:0], 0
		im.progress.update(sum)
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		rec, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return sum, ferr
			}
			return sum, fmt.Errorf("%s: %w", im.name, err)
		}
		if rec.line <= skip {
			sum.Skipped++
			continue
		}
		sum.Read++
		pending = append(pending, rec)
		if rec.err == nil {
			sendable++
		}
		if sendable == im.batch {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	return sum, flush()
}

// sendBatch sends the readable records of recs in one call, retrying what
// could not be stored now, tallies the results and records progress.
func (im *importer) sendBatch(ctx context.Context, recs []record, sum *importSummary) error {
	var todo []int // indexes into recs still to send
	for i := range recs {
		r := &recs[i]
		if r.err != nil {
			continue
		}
		if r.feedback.GetEventId() == "" {
			r.feedback.EventId = derivedEventID(im.name, r.line, r.raw)
		}
		todo = append(todo, i)
	}
	// A call that started finishes even after Ctrl-C, so its outcome is
	// known and recorded; the import then stops between batches.
	callCtx := context.WithoutCancel(ctx)
	var lastErr error
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt > 0 {
			if attempt > im.retries || !sleep(ctx, im.backoff<<min(attempt-1, 4)) {
				break
			}
		}
		items := make([]*intakev1.Feedback, len(todo))
		for i, idx := range todo {
			items[i] = recs[idx].feedback
		}
		resp, err := im.send(callCtx, items)
		if err != nil {
			if !retryable(err) {
				return err // nothing of this batch is counted: a resume sends it again
			}
			lastErr = err
			continue
		}
		var again []int
		for _, res := range resp.GetResults() {
			if int(res.GetIndex()) >= len(todo) {
				continue
			}
			idx := todo[res.GetIndex()]
			switch st := status.FromProto(res.GetError()); {
			case res.GetError() == nil && res.GetDuplicate():
				sum.Duplicate++
			case res.GetError() == nil:
				sum.Accepted++
			case st.Code() == codes.InvalidArgument:
				recs[idx].err = st.Err() // kept so the tally below sees it in line order
			default:
				again = append(again, idx)
				lastErr = st.Err()
			}
		}
		todo = again
	}
	// Tally the records that cannot be sent, in line order, and record the
	// last line before the first record still not stored.
	done := recs[len(recs)-1].line
	if len(todo) > 0 {
		done = recs[todo[0]].line - 1
	}
	for i := range recs {
		if recs[i].err != nil && recs[i].line <= done {
			sum.reject(recs[i].line, rejectReasons(recs[i].err))
		}
	}
	sum.LastLine = max(sum.LastLine, done)
	if im.state != nil {
		if err := im.state.save(sum.LastLine, im.now()); err != nil {
			return err
		}
	}
	if len(todo) > 0 {
		return fmt.Errorf("%d events could not be stored now: %w", len(todo), lastErr)
	}
	return nil
}

// sleep waits for d unless ctx ends first; it reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retryable reports whether a whole call may succeed if tried again.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	}
	return false
}

// rejectReasons turns a rejection into its reasons: one per field violation
// ("nps: value must be ..."), without the batch index, so the same mistake
// on many lines counts as one reason.
func rejectReasons(err error) []string {
	st, ok := status.FromError(err)
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, v := range violations(st) {
		field := v.GetField()
		if rest, ok := strings.CutPrefix(field, "items["); ok {
			if _, after, ok := strings.Cut(rest, "]"); ok {
				field = strings.TrimPrefix(after, ".")
			}
		}
		if field == "" {
			out = append(out, v.GetDescription())
		} else {
			out = append(out, field+": "+v.GetDescription())
		}
	}
	if len(out) == 0 {
		out = append(out, st.Message())
	}
	return out
}

// derivedEventID names a record that has no event id of its own. It is the
// same every time the same file is imported (name, line and content), so a
// repeat or a resume is recognised as a duplicate; the content is part of
// it so a different file that happens to share the name is not.
func derivedEventID(name string, line int, raw []byte) string {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(line)))
	h.Write([]byte{0})
	h.Write(raw)
	return "import-" + hex.EncodeToString(h.Sum(nil))[:32]
}

func (a *app) printSummary(w io.Writer, s *importSummary) error {
	if a.json() {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fmt.Fprintf(w, "%s: %d read, %d accepted, %d duplicate, %d rejected", s.File, s.Read, s.Accepted, s.Duplicate, s.Rejected)
	if s.Skipped > 0 {
		fmt.Fprintf(w, " (%d skipped: done before)", s.Skipped)
	}
	fmt.Fprintln(w)
	if len(s.Reasons) == 0 {
		return nil
	}
	reasons := slices.Clone(s.Reasons)
	slices.SortStableFunc(reasons, func(a, b *reasonTally) int { return b.Count - a.Count })
	fmt.Fprintln(w)
	t := newTable("REJECTED", "REASON", "LINES")
	for _, r := range reasons {
		lines := make([]string, len(r.Lines))
		for i, l := range r.Lines {
			lines[i] = strconv.Itoa(l)
		}
		more := ""
		if r.Count > len(r.Lines) {
			more = ", …"
		}
		t.add(strconv.Itoa(r.Count), r.Reason, strings.Join(lines, ", ")+more)
	}
	return t.render(w)
}

// progressFile records the last line an import of a file completed.
type progressFile struct {
	path string // FILE.feedctl-progress
	file string // the input's base name, a check against a misplaced file
}

type progressRecord struct {
	File      string    `json:"file"`
	LastLine  int       `json:"last_line"`
	UpdatedAt time.Time `json:"updated_at"`
}

// load returns the last completed line, 0 when nothing is recorded.
func (p *progressFile) load() (int, error) {
	b, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var rec progressRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.LastLine < 0 {
		return 0, fmt.Errorf("%s is not an import progress file (delete it to start over)", p.path)
	}
	return rec.LastLine, nil
}

// save records line, atomically: a crash leaves the old record or the new.
func (p *progressFile) save(line int, now time.Time) error {
	b, err := json.Marshal(progressRecord{File: p.file, LastLine: line, UpdatedAt: now.UTC()})
	if err != nil {
		return err
	}
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p.path)
}

// countingReader counts the bytes read through it, for the progress bar.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress reports an import's progress on stderr: a bar redrawn in place
// on a terminal, a plain line every so often otherwise (logs, CI).
type progress struct {
	w       io.Writer
	tty     *os.File
	name    string
	size    int64 // bytes of the input; 0 when unknown
	read    *countingReader
	every   time.Duration
	started time.Time
	last    time.Time
	drawn   bool
}

func newProgress(w io.Writer, name string, size int64, read *countingReader, every time.Duration) *progress {
	now := time.Now()
	return &progress{w: w, tty: terminal(w), name: name, size: size, read: read, every: every, started: now, last: now}
}

func (p *progress) update(s *importSummary) {
	now := time.Now()
	if p.tty != nil {
		if now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		p.last, p.drawn = now, true
		width := 100
		if w, _, err := term.GetSize(int(p.tty.Fd())); err == nil && w > 0 {
			width = w
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s", truncate(p.bar(s, now), width-1))
		return
	}
	if p.every > 0 && now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintf(p.w, "%s: line %d%s, %d accepted, %d duplicate, %d rejected\n",
			p.name, s.LastLine, p.percent(), s.Accepted, s.Duplicate, s.Rejected)
	}
}

func (p *progress) percent() string {
	if p.size <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%d%%)", min(100, p.read.n*100/p.size))
}

// bar is one line: name, bar, percent, counts and rate.
func (p *progress) bar(s *importSummary, now time.Time) string {
	const width = 24
	filled := 0
	if p.size > 0 {
		filled = int(min(width, p.read.n*width/p.size))
	}
	rate := float64(s.Accepted+s.Duplicate+s.Rejected) / max(now.Sub(p.started).Seconds(), 0.001)
	return fmt.Sprintf("%s [%s%s]%s  line %d  %d accepted  %d duplicate  %d rejected  %.0f/s",
		p.name, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.percent(),
		s.LastLine, s.Accepted, s.Duplicate, s.Rejected, rate)
}

// done clears the bar so the summary starts on a clean line.
func (p *progress) done() {
	if p.tty != nil && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
