// Package codec is the compact binary layout of segmentation's stored
// records: varints, length-prefixed strings, times in milliseconds since
// the epoch (0 for the zero time) and little-endian floats.
package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// AppendString appends s, length first.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendTime appends t in milliseconds, 0 for the zero time.
func AppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixMilli())
}

// AppendFloat appends f's 8 bytes.
func AppendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// ErrTruncated is the error of a Reader that ran out of bytes.
var ErrTruncated = errors.New("truncated")

// Reader reads what the Append functions wrote. After the first error
// every read returns a zero value and Err holds it.
type Reader struct {
	B   []byte
	Err error
}

func (r *Reader) fail() {
	if r.Err == nil {
		r.Err = ErrTruncated
	}
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.B)
	if n <= 0 || r.Err != nil {
		r.fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.B)
	if n <= 0 || r.Err != nil {
		r.fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Bytes reads n bytes.
func (r *Reader) Bytes(n uint64) []byte {
	if uint64(len(r.B)) < n || r.Err != nil {
		r.fail()
		return nil
	}
	v := r.B[:n]
	r.B = r.B[n:]
	return v
}

// String reads a string AppendString wrote.
func (r *Reader) String() string { return string(r.Bytes(r.Uvarint())) }

// Time reads a time AppendTime wrote.
func (r *Reader) Time() time.Time {
	if ms := r.Varint(); ms != 0 {
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}

// Float reads a float AppendFloat wrote.
func (r *Reader) Float() float64 {
	if v := r.Bytes(8); v != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(v))
	}
	return 0
}
