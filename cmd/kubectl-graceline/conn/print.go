package conn

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/cmd/get"

	"github.com/graceline/graceline/cmd/kubectl-graceline/kube"
	"github.com/graceline/graceline/internal/cli"
)

// The output formats of the commands that print API objects (list, stuck)
// besides the table: kubectl's.
const (
	OutputWide          = "wide"
	OutputYAML          = "yaml"
	OutputName          = "name"
	OutputJSONLines     = "jsonl"
	outputJSONPath      = "jsonpath="
	outputCustomColumns = "custom-columns="
)

// AddObjectOutputFlag registers -o on a command that prints API objects.
func AddObjectOutputFlag(fs *pflag.FlagSet, out *string) {
	fs.StringVarP(out, "output", "o", OutputTable, `output format, as kubectl's: table, wide, json, yaml, name, jsonpath=TEMPLATE, custom-columns=SPEC; or jsonl (JSON lines in the event contract)`)
}

// CheckObjectOutput refuses an unknown format of AddObjectOutputFlag's.
func CheckObjectOutput(out string) error {
	if strings.HasPrefix(out, outputJSONPath) || strings.HasPrefix(out, outputCustomColumns) {
		return nil
	}
	return cli.OneOf("output", out, OutputTable, OutputWide, OutputJSON, OutputYAML, OutputName, "jsonpath=…", "custom-columns=…", OutputJSONLines)
}

// Printed tells whether out is printed by PrintObject rather than by the
// command's own table or event lines.
func Printed(out string) bool {
	switch out {
	case OutputTable, OutputWide, OutputJSONLines:
		return false
	}
	return true
}

// PrintObject prints obj, which carries its kind, with cli-runtime's
// printers as kubectl does (kubectl's own for custom-columns).
func PrintObject(w io.Writer, out string, obj runtime.Object) error {
	var p printers.ResourcePrinter
	switch {
	case out == OutputJSON:
		p = &printers.JSONPrinter{}
	case out == OutputYAML:
		p = &printers.YAMLPrinter{}
	case out == OutputName:
		p = &printers.NamePrinter{}
	case strings.HasPrefix(out, outputJSONPath):
		jp, err := printers.NewJSONPathPrinter(strings.TrimPrefix(out, outputJSONPath))
		if err != nil {
			return cli.Usagef("--output %s: %v", out, err)
		}
		jp.AllowMissingKeys(true)
		p = jp
	case strings.HasPrefix(out, outputCustomColumns):
		decoder := serializer.NewCodecFactory(kube.Scheme).UniversalDecoder()
		cp, err := get.NewCustomColumnsPrinterFromSpec(strings.TrimPrefix(out, outputCustomColumns), decoder, false)
		if err != nil {
			return cli.Usagef("--output %s: %v", out, err)
		}
		p = cp
	default:
		return cli.Usagef("--output %s: not printed as objects", out)
	}
	// The name printer takes one object at a time.
	if _, ok := p.(*printers.NamePrinter); ok && meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return fmt.Errorf("print %s: %w", out, err)
		}
		for _, item := range items {
			if err := p.PrintObj(item, w); err != nil {
				return fmt.Errorf("print %s: %w", out, err)
			}
		}
		return nil
	}
	if err := p.PrintObj(obj, w); err != nil {
		return fmt.Errorf("print %s: %w", out, err)
	}
	return nil
}
