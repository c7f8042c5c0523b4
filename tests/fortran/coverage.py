#!/usr/bin/env python3
"""Checks that fortran/gemmnet.f90 still covers include/gemmnet.h: a bind(C) interface for
every GN_API function, a bind(C) derived type for every struct, a named constant for every
enumerator and value macro. (test_gemmnet.f90 checks that the ones present are right; this
catches what was added to the header and not to the module.)

usage: coverage.py include/gemmnet.h fortran/gemmnet.f90"""
import re
import sys


def main(header_path, module_path):
    header = open(header_path, encoding='utf-8').read()
    module = open(module_path, encoding='utf-8').read()
    code = re.sub(r'/\*.*?\*/', ' ', header, flags=re.S)

    functions = set()
    for decl in re.findall(r'GN_API\s+([^;]*);', code):
        functions.update(re.findall(r'\b(gn_\w+)\s*\(', decl)[:1])
    structs = set(re.findall(r'typedef struct (gn_\w+)\s*\{', code))
    constants = set()
    for body in re.findall(r'typedef enum \w+\s*\{(.*?)\}', code, flags=re.S):
        constants.update(re.findall(r'\b(GN_[A-Z0-9_]+)\s*=', body))
    # Value macros: #define GN_X <something>, not the export and build switches.
    for name in re.findall(r'#define (GN_[A-Z0-9_]+)[ \t]+\S', code):
        if name != 'GN_API':
            constants.add(name)

    bound = set(re.findall(r"bind\(C, name='(gn_\w+)'\)", module))
    types = set(re.findall(r'type, bind\(C\) :: (gn_\w+)', module))
    params = {p.upper() for p in re.findall(r'\b(GN_[A-Z0-9_]+)\s*=', module)}

    missing = ([f'function {f}' for f in sorted(functions - bound)]
               + [f'struct {s}' for s in sorted(structs - types)]
               + [f'constant {c}' for c in sorted(constants - params)])
    for m in missing:
        print(f'{module_path}: no binding for {m} of {header_path}')
    print(f'{len(functions)} functions, {len(structs)} structs, {len(constants)} constants: '
          f'{len(missing)} missing')
    return 1 if missing else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
