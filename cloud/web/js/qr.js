// A small QR code encoder (ISO/IEC 18004) for the technician login shown once: byte mode,
// error correction L or M, versions 1 to 10 (up to 213 bytes at M), the mask with the lowest
// penalty. Nothing is fetched: the code is drawn as one SVG path, dark modules on white with the
// 4-module quiet zone, so the page's style-src 'self' policy holds.

const k_max_version = 10;
// Per level (L, M) and version 1..10: error-correction codewords per block, and blocks.
const k_ecc_per_block = {
  L: [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18],
  M: [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26],
};
const k_blocks = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5],
};
// The two format bits of each level.
const k_level_bits = { L: 1, M: 0 };

// Modules of a version that carry data and error correction (all but the function patterns).
function raw_data_modules(ver) {
  let n = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const align = Math.floor(ver / 7) + 2;
    n -= (25 * align - 10) * align - 55;
    if (ver >= 7) n -= 36;
  }
  return n;
}

function data_codewords(ver, level) {
  return Math.floor(raw_data_modules(ver) / 8) - k_ecc_per_block[level][ver] * k_blocks[level][ver];
}

// GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1.
function gf_mul(x, y) {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z;
}

function rs_divisor(degree) {
  const d = new Array(degree).fill(0);
  d[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < d.length; j++) {
      d[j] = gf_mul(d[j], root);
      if (j + 1 < d.length) d[j] ^= d[j + 1];
    }
    root = gf_mul(root, 0x02);
  }
  return d;
}

function rs_remainder(data, divisor) {
  const r = new Array(divisor.length).fill(0);
  for (const b of data) {
    const factor = b ^ r.shift();
    r.push(0);
    divisor.forEach((c, i) => {
      r[i] ^= gf_mul(c, factor);
    });
  }
  return r;
}

// The data codewords split into blocks, each with its error correction, interleaved.
function with_ecc(data, ver, level) {
  const blocks = k_blocks[level][ver];
  const ecc_len = k_ecc_per_block[level][ver];
  const raw = Math.floor(raw_data_modules(ver) / 8);
  const short_blocks = blocks - (raw % blocks);
  const short_len = Math.floor(raw / blocks);
  const divisor = rs_divisor(ecc_len);
  const parts = [];
  for (let i = 0, k = 0; i < blocks; i++) {
    const dat = data.slice(k, k + short_len - ecc_len + (i < short_blocks ? 0 : 1));
    k += dat.length;
    const ecc = rs_remainder(dat, divisor);
    if (i < short_blocks) dat.push(0);
    parts.push(dat.concat(ecc));
  }
  const out = [];
  for (let i = 0; i < parts[0].length; i++) {
    parts.forEach((p, j) => {
      if (i !== short_len - ecc_len || j >= short_blocks) out.push(p[i]);
    });
  }
  return out;
}

// Mode, count, the bytes, terminator and padding, as codewords of `ver`.
function data_codewords_of(bytes, ver, level) {
  const bits = [];
  const put = (value, n) => {
    for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  put(0b0100, 4);
  put(bytes.length, ver < 10 ? 8 : 16);
  bytes.forEach((b) => put(b, 8));
  const capacity = data_codewords(ver, level) * 8;
  put(0, Math.min(4, capacity - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) put(pad, 8);
  const out = [];
  for (let i = 0; i < bits.length; i += 8) out.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  return out;
}

function alignment_positions(ver, size) {
  if (ver === 1) return [];
  const n = Math.floor(ver / 7) + 2;
  const step = Math.ceil((ver * 4 + 4) / (n * 2 - 2)) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < n; pos -= step) out.splice(1, 0, pos);
  return out;
}

class grid {
  constructor(ver) {
    this.ver = ver;
    this.size = ver * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
  }

  set(x, y, dark) {
    this.dark[y][x] = dark;
    this.fixed[y][x] = true;
  }

  function_patterns() {
    const n = this.size;
    for (let i = 0; i < n; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [n - 4, 3], [3, n - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const d = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < n && y >= 0 && y < n) this.set(x, y, d !== 2 && d !== 4);
        }
      }
    }
    const pos = alignment_positions(this.ver, n);
    const last = pos.length - 1;
    pos.forEach((x, i) => {
      pos.forEach((y, j) => {
        if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) this.set(x + dx, y + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
        }
      });
    });
    this.format_bits(k_level_bits.L, 0);  // reserves the area; drawn again with the real mask
    if (this.ver >= 7) {
      let rem = this.ver;
      for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
      const bits = (this.ver << 12) | rem;
      for (let i = 0; i < 18; i++) {
        const bit = ((bits >>> i) & 1) === 1;
        const a = n - 11 + (i % 3);
        const b = Math.floor(i / 3);
        this.set(a, b, bit);
        this.set(b, a, bit);
      }
    }
  }

  format_bits(level_bits, mask) {
    const data = (level_bits << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    const n = this.size;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(n - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, n - 15 + i, bit(i));
    this.set(8, n - 8, true);
  }

  codewords(data) {
    const n = this.size;
    let i = 0;
    for (let right = n - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let vert = 0; vert < n; vert++) {
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          const upward = ((right + 1) & 2) === 0;
          const y = upward ? n - 1 - vert : vert;
          if (!this.fixed[y][x] && i < data.length * 8) {
            this.dark[y][x] = ((data[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
            i++;
          }
        }
      }
    }
  }

  mask(m) {
    const rule = [
      (x, y) => (x + y) % 2 === 0,
      (x, y) => y % 2 === 0,
      (x) => x % 3 === 0,
      (x, y) => (x + y) % 3 === 0,
      (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
      (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
      (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
      (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
    ][m];
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        if (!this.fixed[y][x] && rule(x, y)) this.dark[y][x] = !this.dark[y][x];
      }
    }
  }

  // The standard's penalty: runs of 5 or more, 2x2 blocks, finder-like patterns, imbalance.
  penalty() {
    const n = this.size;
    let p = 0;
    const lines = [];
    for (let i = 0; i < n; i++) {
      lines.push(this.dark[i]);
      lines.push(this.dark.map((row) => row[i]));
    }
    const finder = [true, false, true, true, true, false, true];
    for (const line of lines) {
      let run = 1;
      for (let i = 1; i <= n; i++) {
        if (i < n && line[i] === line[i - 1]) {
          run++;
        } else {
          if (run >= 5) p += run - 2;
          run = 1;
        }
      }
      for (let i = 0; i + 7 <= n; i++) {
        if (!finder.every((v, k) => line[i + k] === v)) continue;
        const light = (from, to) => {
          for (let k = from; k < to; k++) if (k >= 0 && k < n && line[k]) return false;
          return true;
        };
        if (light(i - 4, i)) p += 40;
        if (light(i + 7, i + 11)) p += 40;
      }
    }
    let dark = 0;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        if (this.dark[y][x]) dark++;
        if (x + 1 < n && y + 1 < n) {
          const c = this.dark[y][x];
          if (c === this.dark[y][x + 1] && c === this.dark[y + 1][x] && c === this.dark[y + 1][x + 1]) p += 3;
        }
      }
    }
    const total = n * n;
    p += (Math.ceil(Math.abs(dark * 20 - total * 10) / total) - 1) * 10;
    return p;
  }
}

// The modules of the QR code of `text` (UTF-8): { size, dark: rows of booleans }. Throws when
// the text does not fit version 10.
export function qr_encode(text, level = 'M') {
  const bytes = Array.from(new TextEncoder().encode(text));
  let ver = 1;
  while (ver <= k_max_version && 4 + (ver < 10 ? 8 : 16) + bytes.length * 8 > data_codewords(ver, level) * 8) ver++;
  if (ver > k_max_version) throw new Error('text too long for a QR code of version 10');
  const codewords = with_ecc(data_codewords_of(bytes, ver, level), ver, level);
  let best = null;
  for (let m = 0; m < 8; m++) {
    const g = new grid(ver);
    g.function_patterns();
    g.codewords(codewords);
    g.mask(m);
    g.format_bits(k_level_bits[level], m);
    const p = g.penalty();
    if (best === null || p < best.p) best = { p, g };
  }
  return { size: best.g.size, dark: best.g.dark };
}

// An SVG element drawing `text` as a QR code, `px` pixels per module, with its quiet zone.
export function qr_svg(text, px = 4, level = 'M') {
  const q = qr_encode(text, level);
  const ns = 'http://www.w3.org/2000/svg';
  const side = (q.size + 8) * px;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${q.size + 8} ${q.size + 8}`);
  svg.setAttribute('width', String(side));
  svg.setAttribute('height', String(side));
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(ns, 'rect');
  bg.setAttribute('width', String(q.size + 8));
  bg.setAttribute('height', String(q.size + 8));
  bg.setAttribute('fill', '#fff');
  let d = '';
  q.dark.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) d += `M${x + 4} ${y + 4}h1v1h-1z`;
    });
  });
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}
