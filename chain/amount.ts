// Token amounts as operators write them ("1.5") and as ledgers count them (smallest units).
export const TOKEN_AMOUNT = /^\d{1,15}(\.\d{1,18})?$/

/** "1.5" with 12 decimals → 1500000000000n. Throws RangeError for text that is not an amount or has too many decimals. */
export function parseTokenAmount (text: string, decimals: number): bigint {
  if (!TOKEN_AMOUNT.test(text)) throw new RangeError(`not a token amount: ${JSON.stringify(text)}`)
  const [whole, frac = ''] = text.split('.') as [string, string?]
  if (frac.length > decimals) throw new RangeError(`${text} has more than ${decimals} decimals`)
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0')
}

/** 1500000000000n with 12 decimals → "1.5". */
export function formatTokenAmount (value: bigint, decimals: number): string {
  const unit = 10n ** BigInt(decimals)
  const sign = value < 0n ? '-' : ''
  const v = value < 0n ? -value : value
  const frac = (v % unit).toString().padStart(decimals, '0').replace(/0+$/, '')
  return `${sign}${v / unit}${frac.length > 0 ? '.' + frac : ''}`
}
