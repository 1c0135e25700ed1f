// Package setting lets the package that owns a configuration say which of
// its settings is out of bounds, so that a command can name the flag that
// set it without restating the rule.
package setting

import (
	"errors"
	"fmt"
)

// Error is one setting outside its rule.
type Error struct {
	// Name is the setting's field, as Go names it ("RelistPeriod"), with
	// the path of enclosing fields once In has prefixed it
	// ("Observer.RelistPeriod").
	Name string
	// Value is the rejected value as text; empty when none was given.
	Value string
	// Want says what is accepted: a range, or the list of accepted values.
	Want string
}

// Error reads "RelistPeriod 0s: want at least 100ms and at most 1m0s".
func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s not given: want %s", e.Name, e.Want)
	}
	return fmt.Sprintf("%s %s: want %s", e.Name, e.Value, e.Want)
}

// Invalid reports that the setting name holds value, which is not what it
// accepts: want. A string value is quoted, so that a stray space or an
// empty string shows; an empty string reads as not given.
func Invalid(name string, value any, want string) error {
	v := fmt.Sprint(value)
	if s, ok := value.(string); ok && s != "" {
		v = fmt.Sprintf("%q", s)
	}
	return &Error{Name: name, Value: v, Want: want}
}

// In prefixes the name in a setting error with the enclosing field, so that
// the error names its setting from the outer configuration. Other errors,
// and nil, pass unchanged.
func In(field string, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	return &Error{Name: field + "." + e.Name, Value: e.Value, Want: e.Want}
}

// NameOf is the name of the setting err reports, or "" when err is not a
// setting error (or nil).
func NameOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	return ""
}
