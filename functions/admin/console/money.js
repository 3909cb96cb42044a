// Exact decimal sums of the report's USD strings (floats would drift from the report's cents).

const SCALE = 18n;
const ONE = 10n ** SCALE;

/** "0.000123" -> BigInt in units of 1e-18 USD. */
export function parse(s) {
  const str = String(s ?? "0").trim();
  const neg = str.startsWith("-");
  const [int, frac = ""] = str.replace(/^[-+]/, "").split(".");
  const v = BigInt(int || "0") * ONE + BigInt((frac + "0".repeat(18)).slice(0, 18) || "0");
  return neg ? -v : v;
}

/** Sum of decimal strings. */
export function sum(values) {
  return values.reduce((a, v) => a + parse(v), 0n);
}

/** Exact decimal text, trailing zeros dropped ("0.00123"). */
export function exact(v) {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const frac = (a % ONE).toString().padStart(18, "0").replace(/0+$/, "");
  return (neg ? "-" : "") + (a / ONE).toString() + (frac ? "." + frac : "");
}

/** To the cent, half up ("$1.23"). */
export function cents(v) {
  const unit = ONE / 100n;
  const neg = v < 0n;
  const a = neg ? -v : v;
  const c = (a + unit / 2n) / unit;
  return `${neg ? "-" : ""}$${(c / 100n).toString()}.${(c % 100n).toString().padStart(2, "0")}`;
}

/** As a float, for drawing only. */
export function toNumber(v) {
  return Number(v) / 1e18;
}
