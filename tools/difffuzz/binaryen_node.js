// Runs binaryen's wasm-opt from the npm package `binaryen` (an Emscripten build for
// node) many times in one node process, for tools/difffuzz/generate.py: starting it
// costs ~0.8 s of CPU, a run in this process ~0.1 s.
//
//   node binaryen_node.js PACKAGE_DIR      (the directory holding index.js and bin/)
//
// Protocol: one JSON object per stdin line, one JSON answer per stdout line.
//   {"args": [...]}  run `wasm-opt ARGS` -> {"status": 0, "errors": "..."}
//   {"stub": PATH, "features": [NAME...]}  (binaryen.js's Features names) in the module at PATH, replace every imported
//       function of "fuzzing-support" except log-* by a function of the module that
//       returns zero or null (the harness cannot provide funcref-typed host functions
//       in pywamr) -> {"status": 0, "errors": ""}
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const readline = require("node:readline");

const packageDir = path.resolve(process.argv[2]);
const script = path.join(packageDir, "bin", "wasm-opt");
// The Emscripten program decodes its embedded wasm from a string and compiles it on
// every start: decode and compile once, instantiate per run.
const DECODE = "function binaryDecode(bin){";
const text = fs.readFileSync(script, "utf8");
if (!text.includes(DECODE)) throw new Error(`${script}: not the expected Emscripten build`);
const source = new vm.Script(
  text.replace(DECODE, DECODE + "if(globalThis.__decoded)return globalThis.__decoded;"),
  { filename: script });
let decoded = null;
let compiled = null;
const CachingWebAssembly = Object.assign(Object.create(WebAssembly), {
  async instantiate(binary, imports) {
    if (compiled === null) compiled = await WebAssembly.compile(binary);
    if (decoded === null) decoded = binary;
    return { instance: await WebAssembly.instantiate(compiled, imports), module: compiled };
  },
});

function wasmOpt(args) {
  return new Promise((resolve) => {
    let errors = "";
    const Module = {
      arguments: args,
      print: () => {},
      printErr: (line) => { errors += line + "\n"; },
      onAbort: (what) => resolve({ status: 134, errors: errors + String(what) }),
      postRun: () => resolve({ status: 0, errors }),
    };
    const fakeProcess = Object.create(process);
    fakeProcess.argv = [process.argv[0], script, ...args];
    Object.defineProperty(fakeProcess, "exitCode", {
      set(value) { if (value) resolve({ status: value, errors }); },
      get() { return 0; },
    });
    const context = vm.createContext({
      Module, require, process: fakeProcess, __dirname: path.dirname(script),
      __filename: script, setTimeout, clearTimeout, URL, TextDecoder, TextEncoder, performance,
      console: { log: () => {}, error: (line) => { errors += line + "\n"; }, warn: () => {} },
      WebAssembly: CachingWebAssembly, __decoded: decoded,
    });
    try {
      source.runInContext(context);
    } catch (error) {
      resolve({ status: 1, errors: errors + String(error) });
    }
  });
}

let binaryen = null;

function featureBits(b, names) {
  return names.reduce((all, name) => {
    if (b.Features[name] === undefined) throw new Error(`unknown feature ${name}`);
    return all | b.Features[name];
  }, b.Features.MVP);
}

async function stubImports(file, features) {
  if (binaryen === null) binaryen = (await import(path.join(packageDir, "index.js"))).default;
  const b = binaryen;
  const original = b.readBinary(fs.readFileSync(file), b.Features.All);
  let text;
  try {
    const stubs = [];
    for (let i = 0; i < original.getNumFunctions(); i++) {
      const info = b.getFunctionInfo(original.getFunctionByIndex(i));
      if (info.module === "fuzzing-support" && !info.base.startsWith("log-")) stubs.push(info);
    }
    if (stubs.length === 0) return { status: 0, errors: "" };
    for (const info of stubs) {
      original.removeFunction(info.name);
      let body;
      if (info.results === b.none) body = original.nop();
      else if (info.results === b.i32) body = original.i32.const(0);
      else if (info.results === b.funcref) body = original.ref.null(b.funcref);
      else if (info.results === b.externref) body = original.ref.null(b.externref);
      else throw new Error(`no stub for ${info.base}: result type ${info.results}`);
      original.addFunction(info.name, info.params, info.results, [], body);
    }
    // Through the text format: parsing again gives every ref.func of a replaced import
    // the type of its new definition.
    text = original.emitText();
  } finally {
    original.dispose();
  }
  const module = b.parseText(text);
  try {
    // Written with the module's own features (All would pick newer binary encodings).
    module.setFeatures(featureBits(b, features));
    if (!module.validate()) throw new Error("the module is invalid after replacing imports");
    fs.writeFileSync(file, module.emitBinary());
    return { status: 0, errors: "" };
  } finally {
    module.dispose();
  }
}

(async () => {
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let answer;
    try {
      const job = JSON.parse(line);
      answer = job.stub !== undefined ? await stubImports(job.stub, job.features) : await wasmOpt(job.args);
    } catch (error) {
      answer = { status: 1, errors: String(error && error.stack || error) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
    // binaryen.js cannot be used after an abort: end, the caller starts a new process.
    if (answer.status !== 0 && answer.errors.includes("Aborted(")) process.exit(3);
  }
})();
