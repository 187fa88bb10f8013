// Package jsontext checks JSON text without decoding it.
package jsontext

// MaxDepth is the deepest nesting of arrays and objects Valid accepts:
// encoding/json's own limit, so that the two agree on every input.
const MaxDepth = 10000

// Valid reports whether data is one JSON value with optional white space
// around it, exactly as encoding/json's Valid does: the same grammar, the
// same nesting limit, bytes of any value inside strings but none below
// U+0020. It is several times faster (search reads back every run the
// store wrote, and encoding/json's per-byte state machine was a fifth of
// that: issue 16), and iterative, so that damaged text nested a million
// levels deep costs one pass and no stack.
func Valid(data []byte) bool {
	// open holds, for each array or object not yet closed, whether it is
	// an object; it is a slice, not recursion, for the reason above, and
	// starts on the stack: most text nests a few levels.
	var shallow [64]bool
	open := shallow[:0]
	i := skipSpace(data, 0)
	for {
		// A value starts at i.
		if i >= len(data) {
			return false
		}
		switch c := data[i]; c {
		case '{', '[':
			if len(open) == MaxDepth {
				return false
			}
			isObject := c == '{'
			open = append(open, isObject)
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == "]}"[btoi(isObject)] {
				open = open[:len(open)-1]
				i++
				break // an empty one: the value is complete
			}
			if isObject {
				if i = member(data, i); i < 0 {
					return false
				}
			}
			continue // its first element or member value
		case '"':
			if i = str(data, i); i < 0 {
				return false
			}
		case 't':
			if i = literal(data, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = literal(data, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = literal(data, i, "null"); i < 0 {
				return false
			}
		default:
			if i = number(data, i); i < 0 {
				return false
			}
		}
		// A value ended before i: close what it completes, then find
		// where the next value starts.
		for {
			i = skipSpace(data, i)
			if len(open) == 0 {
				return i == len(data)
			}
			if i >= len(data) {
				return false
			}
			isObject := open[len(open)-1]
			if data[i] == "]}"[btoi(isObject)] {
				open = open[:len(open)-1]
				i++
				continue
			}
			if data[i] != ',' {
				return false
			}
			i = skipSpace(data, i+1)
			if isObject {
				if i = member(data, i); i < 0 {
					return false
				}
			}
			break
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// member reads an object member's name and colon at i and returns where
// its value starts (after white space), or -1.
func member(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	if i = str(data, i); i < 0 {
		return -1
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return -1
	}
	return skipSpace(data, i+1)
}

// str reads the string that starts at i (at its quote) and returns the
// index after its closing quote, or -1.
func str(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(data) {
				return -1
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) {
					return -1
				}
				for _, h := range data[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// literal reads word (true, false or null) at i and returns the index
// after it, or -1.
func literal(data []byte, i int, word string) int {
	if len(data)-i < len(word) || string(data[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// number reads the number at i and returns the index after it, or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(data []byte, i int) int {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i = digits(data, i)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		if i = digits(data, i+1); i < 0 {
			return -1
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i = digits(data, i); i < 0 {
			return -1
		}
	}
	return i
}

// digits reads one or more digits at i and returns the index after them,
// or -1 when there is none.
func digits(data []byte, i int) int {
	start := i
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}
