// Package celx compiles CEL conditions over the fields of a Go struct,
// declared once as typed variables, and evaluates them straight from the
// struct, without building a map per evaluation. Rule files (segmentation's
// tiers, alerting's recovery rules) are written in it.
package celx

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// Var declares a variable a condition can read from a *T.
type Var[T any] struct {
	Name string
	Type *cel.Type
	Get  func(*T) any
}

// Env compiles conditions over T's variables.
type Env[T any] struct {
	env *cel.Env
	get map[string]func(*T) any
}

// NewEnv declares vars.
func NewEnv[T any](vars []Var[T]) (*Env[T], error) {
	opts := make([]cel.EnvOption, 0, len(vars))
	get := make(map[string]func(*T) any, len(vars))
	for _, v := range vars {
		opts = append(opts, cel.Variable(v.Name, v.Type))
		get[v.Name] = v.Get
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return &Env[T]{env: env, get: get}, nil
}

// Condition is a compiled, type-checked condition.
type Condition[T any] struct{ prog cel.Program }

// Input is a value as conditions read it: make one per value, then
// evaluate every condition on it.
type Input[T any] struct{ act interpreter.Activation }

// Input makes v readable by e's conditions.
func (e *Env[T]) Input(v *T) Input[T] { return Input[T]{act: activation[T]{get: e.get, v: v}} }

// Compile parses and type-checks expr, which must be true or false. Its
// errors read well after a rule's name: "empty `when`", "ERROR: <input>:1:1:
// undeclared reference to 'x'", "`when` must be true or false, not double".
func (e *Env[T]) Compile(expr string) (*Condition[T], error) {
	if expr == "" {
		return nil, errors.New("empty `when`")
	}
	ast, iss := e.env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("`when` must be true or false, not %s", ast.OutputType())
	}
	prog, err := e.env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return &Condition[T]{prog: prog}, nil
}

// Holds evaluates c on in. A condition that fails at run time (it cannot
// after type-checking, short of a bug) does not hold.
func (c *Condition[T]) Holds(in Input[T]) bool {
	out, _, err := c.prog.Eval(in.act)
	return err == nil && out == types.True
}

// activation resolves variables straight from the struct.
type activation[T any] struct {
	get map[string]func(*T) any
	v   *T
}

func (a activation[T]) ResolveName(name string) (any, bool) {
	get, ok := a.get[name]
	if !ok {
		return nil, false
	}
	return get(a.v), true
}

func (activation[T]) Parent() interpreter.Activation { return nil }
