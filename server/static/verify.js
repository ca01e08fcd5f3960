// Verifies in the browser that a document is recorded in the log, trusting only a log key.
//
// The page hashes the chosen file with Web Crypto (SHA-256), asks the server for every event
// naming that hash (/v1/documents/{sha256}), and then checks, itself:
//   - the checkpoint's Ed25519 signature (C2SP signed note) under the trusted log key, whose
//     name must be the checkpoint origin and whose key id must match the signature line;
//   - each RFC 6962 inclusion proof (index < size, path length, audit path) against the
//     signed root;
//   - that each leaf's bytes (/v1/log/entries/{i}) hash to the proven leaf hash and that the
//     event in that leaf names the document's hash in the field the server said;
//   - that the checkpoint is consistent with one seen before (kept in this browser) and with
//     one pasted from another source (RFC 6962 consistency proofs).
// Whatever the server answers is treated as untrusted input. No library, no network beyond
// this server's own API.
"use strict";

(function () {
  const encoder = new TextEncoder();
  const subtle = globalThis.crypto ? globalThis.crypto.subtle : undefined;
  const SIGNATURE_PREFIX = "\u2014 ";
  const MAX_SIGNATURES = 100;
  const STORAGE_PREFIX = "commitment-ledger/checkpoint/";

  class Malformed extends Error {} // input that is not in the format it claims
  class Refused extends Error {} // well-formed evidence that does not verify

  // Bytes ------------------------------------------------------------------------------
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  function compareBytes(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function fromHex(text, what) {
    if (typeof text !== "string" || !/^(?:[0-9a-f]{2})*$/.test(text)) {
      throw new Malformed(`${what} is not lower-case hex`);
    }
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  function toBase64(bytes) {
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  }

  function fromBase64(text, what) {
    if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new Malformed(`${what} is not standard base64`);
    }
    const raw = atob(text);
    const out = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    if (toBase64(out) !== text) throw new Malformed(`${what} is not canonical base64`);
    return out;
  }

  function hash32(value, what) {
    if (!(value instanceof Uint8Array) || value.length !== 32) {
      throw new Malformed(`${what} must be 32 bytes`);
    }
    return value;
  }

  async function sha256(data) {
    return new Uint8Array(await subtle.digest("SHA-256", data));
  }

  const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
  const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // Tree sizes and indices ---------------------------------------------------------------
  const MAX_TREE_SIZE = (1n << 63n) - 1n;

  function treeInt(value, what) {
    if (typeof value === "bigint") {
      if (value < 0n || value > MAX_TREE_SIZE) throw new Malformed(`${what} is out of range`);
      return value;
    }
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Malformed(`${what} must be a non-negative integer`);
    }
    return BigInt(value);
  }

  const bitLength = (x) => (x === 0n ? 0 : x.toString(2).length);
  const popCount = (x) => x.toString(2).split("").filter((c) => c === "1").length;
  const isPowerOfTwo = (x) => x > 0n && (x & (x - 1n)) === 0n;

  function proofList(proof, what) {
    if (proof === null || proof === undefined) return [];
    if (!Array.isArray(proof)) throw new Malformed(`${what} must be a list of hashes`);
    return proof.map((item, i) => hash32(item, `${what}[${i}]`));
  }

  // RFC 9162 2.1.3.2: the root an inclusion proof implies.
  async function rootFromInclusionProof(leaf, index, size, proof) {
    hash32(leaf, "leaf hash");
    const idx = treeInt(index, "leaf index");
    const sz = treeInt(size, "tree size");
    const path = proofList(proof, "inclusion proof");
    if (idx >= sz) throw new Refused(`leaf index ${idx} is not below the tree size ${sz}`);
    const inner = bitLength(idx ^ (sz - 1n));
    const expected = inner + popCount(idx >> BigInt(inner));
    if (path.length !== expected) {
      throw new Refused(`inclusion proof has ${path.length} hashes; index ${idx} in a tree of size ${sz} needs ${expected}`);
    }
    let fn = idx;
    let sn = sz - 1n;
    let r = leaf;
    for (const p of path) {
      if (sn === 0n) throw new Refused("inclusion proof is longer than the path");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new Refused("inclusion proof is shorter than the path");
    return r;
  }

  async function verifyInclusion(leaf, index, size, proof, root) {
    hash32(root, "root");
    const computed = await rootFromInclusionProof(leaf, index, size, proof);
    if (!equalBytes(computed, root)) {
      throw new Refused(`inclusion proof for leaf ${index} gives root ${toHex(computed)}, the checkpoint signed ${toHex(root)}`);
    }
  }

  function consistencyProofSize(m, n, complete) {
    // RFC 9162 2.1.4.1 SUBPROOF, counting hashes only.
    if (m === n) return complete ? 0 : 1;
    let k = 1n;
    while (k << 1n < n) k <<= 1n;
    return m <= k ? consistencyProofSize(m, k, complete) + 1 : consistencyProofSize(m - k, n - k, false) + 1;
  }

  // RFC 9162 2.1.4.2: that tree (size2, root2) extends tree (size1, root1).
  async function verifyConsistency(size1, size2, proof, root1, root2) {
    const old = treeInt(size1, "old tree size");
    const now = treeInt(size2, "new tree size");
    hash32(root1, "old root");
    hash32(root2, "new root");
    let path = proofList(proof, "consistency proof");
    if (old > now) throw new Malformed(`old tree size ${old} is larger than new tree size ${now}`);
    if (old === 0n) throw new Malformed("consistency from tree size 0 is not a proof");
    if (old === now) {
      if (path.length) throw new Refused(`sizes are equal (${old}) but the proof is not empty`);
      if (!equalBytes(root1, root2)) throw new Refused(`sizes are equal (${old}) but the roots differ`);
      return;
    }
    const expected = consistencyProofSize(old, now, true);
    if (path.length !== expected) {
      throw new Refused(`consistency proof ${old} -> ${now} has ${path.length} hashes, needs ${expected}`);
    }
    if (isPowerOfTwo(old)) path = [root1, ...path];
    let fn = old - 1n;
    let sn = now - 1n;
    while ((fn & 1n) === 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) throw new Refused("consistency proof is longer than the path");
      if ((fn & 1n) === 1n || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new Refused("consistency proof is shorter than the path");
    if (!equalBytes(fr, root1)) throw new Refused(`consistency proof ${old} -> ${now} does not give the old root`);
    if (!equalBytes(sr, root2)) throw new Refused(`consistency proof ${old} -> ${now} does not give the new root`);
  }

  // Keys and signed notes (C2SP signed-note, tlog-checkpoint) ----------------------------
  function checkKeyName(name, what) {
    if (!name || /\s/u.test(name) || name.includes("+")) {
      throw new Malformed(`${what}: a key name is non-empty, without spaces or '+'`);
    }
    return name;
  }

  async function keyId(name, publicKey) {
    const digest = await sha256(concat(encoder.encode(name + "\n"), Uint8Array.of(1), publicKey));
    return digest.slice(0, 4);
  }

  // "<name>+<hash8>+<base64(0x01 || pub32)>", the key id checked against the key.
  async function parseVkey(text) {
    const vkey = String(text || "").trim();
    const first = vkey.indexOf("+");
    const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
    if (first < 0 || second < 0) throw new Malformed("a log key (vkey) reads <name>+<hash8>+<base64>");
    const name = checkKeyName(vkey.slice(0, first), "log key");
    const hash8 = vkey.slice(first + 1, second);
    const raw = fromBase64(vkey.slice(second + 1), "log key");
    if (raw.length !== 33 || raw[0] !== 1) throw new Malformed("the log key is not 0x01 followed by a 32-byte Ed25519 key");
    const publicKey = raw.slice(1);
    const id = await keyId(name, publicKey);
    if (hash8 !== toHex(id)) throw new Malformed(`the log key's hash ${hash8} does not match the key (${toHex(id)})`);
    return { vkey, name, id, publicKey };
  }

  function checkNoteCharacters(text, what) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 && c !== 0x0a) throw new Malformed(`${what}: control character at offset ${i}`);
    }
  }

  function parseNote(note) {
    if (typeof note !== "string" || !note) throw new Malformed("the checkpoint is empty");
    checkNoteCharacters(note, "checkpoint");
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new Malformed("the checkpoint has no blank line before its signatures");
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2);
    if (!block || !block.endsWith("\n")) throw new Malformed("the checkpoint's signature block must end with a newline");
    const lines = block.slice(0, -1).split("\n");
    if (lines.length > MAX_SIGNATURES) throw new Malformed("the checkpoint has too many signatures");
    const signatures = lines.map((line, n) => {
      if (!line.startsWith(SIGNATURE_PREFIX)) throw new Malformed(`signature line ${n} does not start with an em dash`);
      const rest = line.slice(SIGNATURE_PREFIX.length);
      const space = rest.indexOf(" ");
      if (space <= 0) throw new Malformed(`signature line ${n}: expected '<name> <base64>'`);
      const name = checkKeyName(rest.slice(0, space), `signature line ${n}`);
      const raw = fromBase64(rest.slice(space + 1), `signature line ${n}`);
      if (raw.length < 5) throw new Malformed(`signature line ${n} is too short`);
      return { name, id: raw.slice(0, 4), signature: raw.slice(4) };
    });
    return { text, signatures };
  }

  async function ed25519Verify(publicKey, signature, message) {
    let key;
    try {
      key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      throw new Malformed(`this browser cannot verify Ed25519 signatures (${error.message || error})`);
    }
    return subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  function parseCheckpointBody(text) {
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3) throw new Malformed("a checkpoint needs origin, size and root lines");
    const [origin, sizeText, rootText] = lines;
    if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new Malformed(`checkpoint size ${sizeText} is not a decimal number`);
    const size = BigInt(sizeText);
    if (size > MAX_TREE_SIZE) throw new Malformed("checkpoint size is out of range");
    const root = fromBase64(rootText, "checkpoint root");
    if (root.length !== 32) throw new Malformed("the checkpoint root is not 32 bytes");
    return { origin, size, root };
  }

  // The text of a note that `key` signed (signature lines matched by name and key id), or a
  // throw. Signatures by other keys (witnesses, say) are ignored.
  async function openNote(note, key) {
    const parsed = parseNote(note);
    const mine = parsed.signatures.filter((s) => s.name === key.name && equalBytes(s.id, key.id));
    if (!mine.length) {
      const names = [...new Set(parsed.signatures.map((s) => s.name))].join(", ");
      throw new Refused(`the checkpoint is not signed by the trusted key ${key.name} (key id ${toHex(key.id)}); signed by: ${names}`);
    }
    const message = encoder.encode(parsed.text);
    for (const s of mine) {
      if (s.signature.length !== 64 || !(await ed25519Verify(key.publicKey, s.signature, message))) {
        throw new Refused(`the checkpoint's signature by ${key.name} does not verify`);
      }
    }
    return parsed.text;
  }

  // A checkpoint the trusted key signed (and whose origin is that key's name), or a throw.
  async function openCheckpoint(note, key) {
    const body = parseCheckpointBody(await openNote(note, key));
    if (body.origin !== key.name) {
      throw new Refused(`the checkpoint origin ${body.origin} is not the log key's name ${key.name}`);
    }
    return { note, ...body };
  }

  // Strict msgpack: no floats or ext, map keys text, unique and sorted by UTF-8 bytes ----
  function decodeMsgpack(bytes) {
    const utf8 = new TextDecoder("utf-8", { fatal: true });
    let pos = 0;
    const need = (n) => {
      if (n > bytes.length - pos) throw new Malformed("msgpack: truncated");
    };
    const uint = (n) => {
      need(n);
      let v = 0n;
      for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(bytes[pos++]);
      return v;
    };
    const int = (n) => {
      const v = uint(n);
      const bits = BigInt(8 * n);
      return v >= 1n << (bits - 1n) ? v - (1n << bits) : v;
    };
    const small = (v) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
    const length = (n) => Number(uint(n));
    const text = (n) => {
      need(n);
      let s;
      try {
        s = utf8.decode(bytes.subarray(pos, pos + n));
      } catch (error) {
        throw new Malformed("msgpack: text is not UTF-8");
      }
      pos += n;
      return s;
    };
    const binary = (n) => {
      need(n);
      const b = bytes.slice(pos, pos + n);
      pos += n;
      return b;
    };
    const array = (n, depth) => {
      need(n);
      const out = [];
      for (let i = 0; i < n; i++) out.push(value(depth + 1));
      return out;
    };
    const map = (n, depth) => {
      need(n);
      const out = Object.create(null);
      let previous = null;
      for (let i = 0; i < n; i++) {
        const key = value(depth + 1);
        if (typeof key !== "string") throw new Malformed("msgpack: a map key is not text");
        const keyBytes = encoder.encode(key);
        if (previous !== null && compareBytes(previous, keyBytes) >= 0) {
          throw new Malformed("msgpack: map keys are not unique and sorted");
        }
        previous = keyBytes;
        out[key] = value(depth + 1);
      }
      return out;
    };
    const value = (depth) => {
      if (depth > 64) throw new Malformed("msgpack: nested too deeply");
      need(1);
      const b = bytes[pos++];
      if (b <= 0x7f) return b;
      if (b <= 0x8f) return map(b & 0x0f, depth);
      if (b <= 0x9f) return array(b & 0x0f, depth);
      if (b <= 0xbf) return text(b & 0x1f);
      if (b >= 0xe0) return b - 0x100;
      switch (b) {
        case 0xc0: return null;
        case 0xc2: return false;
        case 0xc3: return true;
        case 0xc4: return binary(length(1));
        case 0xc5: return binary(length(2));
        case 0xc6: return binary(length(4));
        case 0xcc: return small(uint(1));
        case 0xcd: return small(uint(2));
        case 0xce: return small(uint(4));
        case 0xcf: return small(uint(8));
        case 0xd0: return small(int(1));
        case 0xd1: return small(int(2));
        case 0xd2: return small(int(4));
        case 0xd3: return small(int(8));
        case 0xd9: return text(length(1));
        case 0xda: return text(length(2));
        case 0xdb: return text(length(4));
        case 0xdc: return array(length(2), depth);
        case 0xdd: return array(length(4), depth);
        case 0xde: return map(length(2), depth);
        case 0xdf: return map(length(4), depth);
        default:
          throw new Malformed(`msgpack: type 0x${b.toString(16)} is not allowed here`);
      }
    };
    const result = value(0);
    if (pos !== bytes.length) throw new Malformed("msgpack: trailing bytes");
    return result;
  }

  // "consultation.record_sha256", "obligations.0.x_sha256": map keys and list positions.
  function fieldAt(body, path) {
    let here = body;
    for (const part of String(path).split(".")) {
      if (Array.isArray(here) && /^(0|[1-9][0-9]*)$/.test(part)) here = here[Number(part)];
      else if (here && typeof here === "object" && !Array.isArray(here) && !(here instanceof Uint8Array)) here = here[part];
      else return undefined;
    }
    return here;
  }

  // The event in a leaf (DESIGN 3.4): must be the one the server described and name `sha`.
  function checkLeafNames(leafBytes, described, sha) {
    const leaf = decodeMsgpack(leafBytes);
    if (!leaf || typeof leaf !== "object" || leaf.v !== 1 || !(leaf.envelope instanceof Uint8Array)) {
      throw new Refused(`leaf ${described.leaf_index} is not a version 1 leaf with an envelope`);
    }
    const envelope = decodeMsgpack(leaf.envelope);
    if (leaf.stream !== described.stream || envelope.stream !== leaf.stream) {
      throw new Refused(`leaf ${described.leaf_index} is in stream ${leaf.stream}, not ${described.stream}`);
    }
    if (leaf.type !== described.type || envelope.type !== leaf.type) {
      throw new Refused(`leaf ${described.leaf_index} holds a ${leaf.type} event, not ${described.type}`);
    }
    if (leaf.version !== described.version) {
      throw new Refused(`leaf ${described.leaf_index} is version ${leaf.version} of its stream, not ${described.version}`);
    }
    const named = fieldAt(envelope.body, described.field);
    if (typeof named !== "string" || named.toLowerCase() !== sha) {
      throw new Refused(`the event at leaf ${described.leaf_index} does not name this document in ${described.field}`);
    }
    return { recordedAt: String(leaf.recorded_at), signer: String(envelope.signer) };
  }

  // Talking to the server -------------------------------------------------------------
  class ServerError extends Error {}

  async function fetchChecked(path, kind) {
    let response;
    try {
      response = await fetch(path, { cache: "no-store", credentials: "omit" });
    } catch (error) {
      throw new ServerError(`the server could not be reached (${error.message || error})`);
    }
    if (response.status === 404 && kind === "document") return null;
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (error) {
        // not problem+json: keep the status text
      }
      throw new ServerError(`${path}: ${response.status} ${detail}`);
    }
    if (kind === "bytes") return new Uint8Array(await response.arrayBuffer());
    try {
      return await response.json();
    } catch (error) {
      throw new Malformed(`${path} did not answer JSON`);
    }
  }

  async function consistencyBetween(older, newer) {
    if (older.size === newer.size) {
      if (!equalBytes(older.root, newer.root)) throw new Refused("two checkpoints of the same size have different roots");
      return;
    }
    const [low, high] = older.size < newer.size ? [older, newer] : [newer, older];
    const proof = await fetchChecked(`/v1/log/proof/consistency?from=${low.size}&to=${high.size}`, "json");
    if (!proof || String(proof.from) !== String(low.size) || String(proof.to) !== String(high.size) || !Array.isArray(proof.hashes)) {
      throw new Malformed("the consistency proof is not for the sizes asked");
    }
    await verifyConsistency(low.size, high.size, proof.hashes.map((h, i) => fromHex(h, `consistency hash ${i}`)), low.root, high.root);
  }

  // The whole check of one document hash. Returns a report; throws on refusal.
  async function verifyDocument(sha, keyText, otherNote, remembered) {
    const key = await parseVkey(keyText);
    const answer = await fetchChecked(`/v1/documents/${sha}`, "document");
    if (answer === null) return { status: "not-recorded", sha, key };
    if (!answer || answer.sha256 !== sha || !Array.isArray(answer.events) || !answer.events.length) {
      throw new Malformed("the server's answer does not describe this document");
    }
    const checkpoint = await openCheckpoint(answer.checkpoint, key);
    const events = [];
    for (const e of answer.events) {
      const proof = e.inclusion || {};
      if (proof.leaf_hash !== e.leaf_hash || proof.leaf_index !== e.leaf_index) {
        throw new Refused(`the proof for leaf ${e.leaf_index} is for another leaf`);
      }
      if (String(proof.tree_size) !== String(checkpoint.size)) {
        throw new Refused(`the proof for leaf ${e.leaf_index} is for tree size ${proof.tree_size}, the checkpoint has ${checkpoint.size}`);
      }
      const digest = fromHex(e.leaf_hash, "leaf hash");
      const path = Array.isArray(proof.hashes) ? proof.hashes.map((h, i) => fromHex(h, `proof hash ${i}`)) : null;
      if (path === null) throw new Malformed(`the proof for leaf ${e.leaf_index} has no hashes`);
      await verifyInclusion(digest, e.leaf_index, checkpoint.size, path, checkpoint.root);
      const leaf = await fetchChecked(`/v1/log/entries/${treeInt(e.leaf_index, "leaf index")}`, "bytes");
      if (!equalBytes(await leafHash(leaf), digest)) {
        throw new Refused(`the bytes of leaf ${e.leaf_index} do not hash to the proven leaf hash`);
      }
      const found = checkLeafNames(leaf, e, sha);
      events.push({ ...e, ...found });
    }
    const comparisons = [];
    const compare = async (label, note) => {
      const other = await openCheckpoint(note, key).catch((error) => {
        throw new Refused(`${label[1]}: ${error.message}`);
      });
      try {
        await consistencyBetween(other, checkpoint);
      } catch (error) {
        const fork = new Refused(`${label[1]}: ${error.message}`);
        fork.evidence = [other.note, checkpoint.note];
        throw fork;
      }
      comparisons.push({ label, size: other.size, same: other.size === checkpoint.size });
      return other;
    };
    // The larger of the server's and the remembered checkpoint is remembered, but only
    // once every comparison has passed: a run that found a fork must not leave the
    // refused side remembered, to vouch for it on the next visit.
    let keep = checkpoint;
    if (remembered && remembered.note) {
      const before = await compare(
        ["此前在本浏览器中核验过的检查点", "The checkpoint this browser verified before"],
        remembered.note);
      if (before.size > checkpoint.size) keep = before;
    }
    if (otherNote && otherNote.trim()) {
      const note = otherNote.replace(/\r\n/g, "\n").replace(/\n*$/, "\n");
      await compare(["您粘贴的检查点", "The checkpoint you pasted"], note);
    }
    if (remembered && remembered.save) remembered.save(keep);
    return { status: "verified", sha, key, checkpoint, events, comparisons };
  }

  // The page ---------------------------------------------------------------------------
  function h(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function bi(zh, en) {
    return [h("span", { class: "zh", lang: "zh-Hans" }, zh), " ", h("span", { class: "en", lang: "en" }, en)];
  }

  function show(result, status, ...children) {
    result.setAttribute("data-status", status);
    result.replaceChildren(...children.flat());
  }

  function notProven() {
    return h("ul", { class: "not-proven-list" },
      h("li", {}, bi("服务器向您展示的日志与向其他人展示的是同一份：请把下面的检查点与他人或见证方的比对。",
        "That the server shows you the same log as everyone else: compare the checkpoint below with others' or a witness's.")),
      h("li", {}, bi("谁签署了该事件：本页不核验事件本身的签名和签署人的公钥，ledger verify 与 ledger audit 会核验。",
        "Who signed the event: this page does not check the event's own signature or the signer's key; ledger verify and ledger audit do.")),
      h("li", {}, bi("文件内容属实，或事件的签署人有权签署：这需要审计（ledger audit）。",
        "That the document's content is true, or that the event's signer was entitled to sign it: that takes an audit (ledger audit).")));
  }

  function renderVerified(result, report) {
    const cp = report.checkpoint;
    const items = report.events.map((e) => h("li", { class: "proven-event", "data-leaf-index": String(e.leaf_index) },
      bi(`本文件的哈希记载于日志第 ${e.leaf_index} 个叶（${e.stream} 的第 ${e.version} 个事件 ${e.type}，字段 ${e.field}）。`,
        `This document's hash is in the log at leaf ${e.leaf_index}: event ${e.version} of ${e.stream}, ${e.type}, field ${e.field}.`),
      " ", h("a", { href: `/ui/streams/${e.stream}#leaf-${e.leaf_hash}` }, bi("查看时间线", "timeline")),
      h("br"), h("code", {}, e.leaf_hash), " · ", e.recordedAt, " · ", h("code", {}, e.signer)));
    const comparisons = report.comparisons.map((c) => h("li", { class: "proven" },
      bi(`${c.label[0]}（大小 ${c.size}）与本检查点${c.same ? "相同" : "一致（一致性证明已核验）"}。`,
        `${c.label[1]} (size ${c.size}) ${c.same ? "is the same as this one" : "is consistent with this one (consistency proof verified)"}.`)));
    show(result, "verified",
      h("h2", {}, h("span", { class: "status proven" }, "✔ ", bi("已记录，证明已核验", "Recorded: proofs verified"))),
      h("p", {}, bi("文件 SHA-256", "Document SHA-256"), " ", h("code", { id: "result-sha256" }, report.sha)),
      h("h3", {}, bi("已证明", "Proven")),
      h("ul", {}, items,
        h("li", { class: "proven" }, bi(
          `这些叶包含在大小为 ${cp.size} 的日志树中，其检查点由公钥 ${report.key.name}（key id ${toHex(report.key.id)}）签名，签名已核验。`,
          `They are in the log tree of size ${cp.size} under a checkpoint signed by key ${report.key.name} (key id ${toHex(report.key.id)}); the signature verified.`)),
        comparisons),
      h("h3", {}, bi("未证明", "Not proven")), notProven(),
      h("details", {}, h("summary", {}, bi("签名检查点", "Signed checkpoint")), h("pre", { id: "result-checkpoint" }, cp.note)));
  }

  function renderNotRecorded(result, report) {
    show(result, "not-recorded",
      h("h2", {}, h("span", { class: "status refused" }, "✘ ", bi("未记录", "Not recorded"))),
      h("p", {}, bi("文件 SHA-256", "Document SHA-256"), " ", h("code", { id: "result-sha256" }, report.sha)),
      h("p", {}, bi("此日志中没有任何事件记载这个哈希。文件哪怕只改动一个字节，哈希也会完全不同。",
        "No event in this log names this hash. A document changed in even one byte has an entirely different hash.")),
      h("p", { class: "hint" }, bi("“没有记录”是服务器的答复，而不是证明：服务器也可能隐瞒记录。完整重放日志（ledger audit）才能证明。",
        "\u201CNot recorded\u201D is the server's answer, not a proof: a server could withhold an entry. A full replay of the log (ledger audit) proves it.")));
  }

  function renderRefused(result, error) {
    const reason = error instanceof ServerError
      ? bi("服务器出错：", "The server failed:")
      : bi("证据未通过核验：", "The evidence did not verify:");
    show(result, "refused",
      h("h2", {}, h("span", { class: "status refused" }, "✘ ", bi("核验失败", "Verification failed"))),
      h("p", {}, reason, " ", h("span", { id: "result-reason" }, error.message || String(error))),
      error.evidence ? h("details", { open: "" }, h("summary", {}, bi("相互矛盾的检查点（分叉证据）", "Checkpoints that contradict each other (evidence of a fork)")),
        error.evidence.map((note) => h("pre", {}, note))) : null,
      h("p", { class: "hint" }, bi("不要依赖此服务器关于该文件的答复。", "Do not rely on this server's answer about the document.")));
  }

  function storage() {
    try {
      return globalThis.localStorage || null;
    } catch (error) {
      return null;
    }
  }

  function rememberedFor(keyText) {
    const store = storage();
    const name = STORAGE_PREFIX + String(keyText).trim();
    if (!store) return null;
    return {
      note: store.getItem(name),
      save: (checkpoint) => store.setItem(name, checkpoint.note),
    };
  }

  function start() {
    const form = document.getElementById("verify-form");
    const result = document.getElementById("result");
    if (!form || !result) return;
    const fileInput = document.getElementById("document");
    const shaInput = document.getElementById("sha256");
    const keyInput = document.getElementById("vkey");
    const otherInput = document.getElementById("other-checkpoint");
    const drop = document.getElementById("drop");

    if (!subtle || !globalThis.isSecureContext) {
      show(result, "refused", h("p", {}, bi("本浏览器没有向此页面提供 Web Crypto：请通过 HTTPS（或本机地址）打开本页，或使用 ledger verify 命令。",
        "This browser gives the page no Web Crypto: open it over HTTPS (or on localhost), or use the ledger verify command.")));
      return;
    }

    let running = Promise.resolve();
    const run = (sha) => {
      running = running.then(async () => {
        show(result, "working", h("p", {}, bi("正在核验……", "Verifying…")));
        try {
          const report = await verifyDocument(sha, keyInput.value, otherInput ? otherInput.value : "", rememberedFor(keyInput.value));
          if (report.status === "not-recorded") renderNotRecorded(result, report);
          else renderVerified(result, report);
        } catch (error) {
          renderRefused(result, error);
        }
      });
      return running;
    };
    const runFile = async (file) => {
      show(result, "working", h("p", {}, bi("正在计算 SHA-256……", "Computing SHA-256…")));
      const sha = toHex(await sha256(new Uint8Array(await file.arrayBuffer())));
      shaInput.value = sha;
      return run(sha);
    };

    fileInput.addEventListener("change", () => {
      if (fileInput.files && fileInput.files.length) runFile(fileInput.files[0]);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const typed = shaInput.value.trim().toLowerCase();
      if (/^[0-9a-f]{64}$/.test(typed)) run(typed);
      else if (fileInput.files && fileInput.files.length) runFile(fileInput.files[0]);
      else show(result, "refused", h("p", {}, bi("请选择文件，或输入64位十六进制的 SHA-256。", "Choose a document, or enter a SHA-256 of 64 hex digits.")));
    });
    for (const name of ["dragenter", "dragover"]) {
      drop.addEventListener(name, (event) => {
        event.preventDefault();
        drop.classList.add("dragging");
      });
    }
    for (const name of ["dragleave", "drop"]) {
      drop.addEventListener(name, () => drop.classList.remove("dragging"));
    }
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      const files = event.dataTransfer ? event.dataTransfer.files : null;
      if (files && files.length) runFile(files[0]);
    });
    form.setAttribute("data-ready", "true");
  }

  globalThis.LedgerVerify = Object.freeze({
    Malformed, Refused, fromBase64, fromHex, toHex, sha256, leafHash, parseVkey, parseNote,
    openNote, openCheckpoint, verifyInclusion, verifyConsistency, decodeMsgpack, verifyDocument,
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
