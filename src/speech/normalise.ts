// Spoken forms of numbers, dates, times, money and percentages, so every engine reads them
// the same way. The number words come from libraries (number-to-words for English, nzh for
// Chinese); the patterns that find them in text are ours, as no maintained package covers
// both languages.
import nzh from 'nzh/cn';
import numberToWords from 'number-to-words';

const englishMonths = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const englishCurrencies: Record<string, [string, string, string, string]> = {
  $: ['dollar', 'dollars', 'cent', 'cents'],
  '€': ['euro', 'euros', 'cent', 'cents'],
  '£': ['pound', 'pounds', 'penny', 'pence'],
  '¥': ['yuan', 'yuan', 'fen', 'fen'],
};
const chineseCurrencies: Record<string, string> = { $: '美元', '€': '欧元', '£': '英镑', '¥': '元', '￥': '元' };

function words(value: number): string {
  return numberToWords.toWords(value).replace(/,/g, '');
}

function digitsOneByOne(digits: string): string {
  return [...digits].map((digit) => words(Number(digit))).join(' ');
}

/** "3.14" -> "three point one four"; "12" -> "twelve". */
function englishNumber(text: string): string {
  const [whole = '0', fraction] = text.replace(/,/g, '').split('.');
  const spoken = whole.length > 15 ? digitsOneByOne(whole) : words(Number(whole));
  return fraction ? `${spoken} point ${digitsOneByOne(fraction)}` : spoken;
}

/** Years as people say them: 1999 -> nineteen ninety-nine, 2005 -> two thousand five, 2026 -> twenty twenty-six. */
function englishYear(year: number): string {
  if (year >= 2000 && year < 2010) return words(year);
  const high = Math.floor(year / 100);
  const low = year % 100;
  if (low === 0) return `${words(high)} hundred`;
  return `${words(high)} ${low < 10 ? `oh ${words(low)}` : words(low)}`;
}

function englishDate(year: number, month: number, day: number): string | null {
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  return `${englishMonths[month - 1]} ${numberToWords.toWordsOrdinal(day)}, ${englishYear(year)}`;
}

function englishMoney(symbol: string, amount: string, scale: string | undefined): string {
  const [singular, plural, centSingular, centPlural] = englishCurrencies[symbol]!;
  const [whole = '0', cents] = amount.replace(/,/g, '').split('.');
  if (scale) return `${englishNumber(amount)} ${scale} ${plural}`;
  const units = Number(whole);
  let spoken = `${words(units)} ${units === 1 ? singular : plural}`;
  const centValue = cents ? Number(cents.padEnd(2, '0').slice(0, 2)) : 0;
  if (centValue > 0) spoken += ` and ${words(centValue)} ${centValue === 1 ? centSingular : centPlural}`;
  return spoken;
}

export function normaliseEnglish(text: string): string {
  return text
    .replace(/\b(\d{4})-(\d{1,2})-(\d{1,2})\b/g, (all, y: string, m: string, d: string) => englishDate(+y, +m, +d) ?? all)
    .replace(/\b(\d{1,2})\/(\d{1,2})\/(\d{4})\b/g, (all, m: string, d: string, y: string) => englishDate(+y, +m, +d) ?? all)
    .replace(/([$€£¥])\s?(\d[\d,]*(?:\.\d+)?)(?:\s?(thousand|million|billion|trillion)\b)?/g, (_, symbol: string, amount: string, scale: string | undefined) =>
      englishMoney(symbol, amount, scale),
    )
    .replace(/\b(\d{1,2}):(\d{2})\b/g, (_, h: string, m: string) => (m === '00' ? `${words(+h)} o'clock` : `${words(+h)} ${+m < 10 ? `oh ${words(+m)}` : words(+m)}`))
    .replace(/(\d[\d,]*(?:\.\d+)?)\s?%/g, (_, n: string) => `${englishNumber(n)} percent`)
    .replace(/\b(\d+)(st|nd|rd|th)\b/gi, (_, n: string) => numberToWords.toWordsOrdinal(Number(n)))
    .replace(/\b(in|since|by|from|until|of|year)\s+(1[1-9]\d\d|20\d\d)\b/gi, (_, word: string, y: string) => `${word} ${englishYear(+y)}`)
    .replace(/(^|[\s(])-(\d)/g, '$1minus $2')
    .replace(/\d[\d,]*(?:\.\d+)?/g, (n) => (/^\d{1,3}(,\d{3})+(\.\d+)?$|^\d+(\.\d+)?$/.test(n) ? englishNumber(n) : n.replace(/,/g, ' ')));
}

function chineseNumber(text: string): string {
  const [whole = '0', fraction] = text.replace(/,/g, '').split('.');
  const spoken = whole.length > 15 ? chineseDigits(whole) : nzh.encodeS(whole);
  return fraction ? `${spoken}点${chineseDigits(fraction)}` : spoken;
}

function chineseDigits(digits: string): string {
  return [...digits].map((digit) => '零一二三四五六七八九'[Number(digit)]).join('');
}

function chineseMoney(amount: string, unit: string): string {
  const [whole = '0', cents = ''] = amount.replace(/,/g, '').split('.');
  if (unit !== '元') return `${chineseNumber(amount)}${unit}`;
  let spoken = `${nzh.encodeS(whole)}元`;
  const jiao = Number(cents[0] ?? 0);
  const fen = Number(cents[1] ?? 0);
  if (jiao > 0) spoken += `${chineseDigits(String(jiao))}角`;
  if (fen > 0) spoken += `${jiao === 0 ? '零' : ''}${chineseDigits(String(fen))}分`;
  return spoken;
}

export function normaliseChinese(text: string): string {
  return text
    .replace(/(\d{4})\s*年/g, (_, y: string) => `${chineseDigits(y)}年`)
    .replace(/(\d{4})-(\d{1,2})-(\d{1,2})/g, (_, y: string, m: string, d: string) => `${chineseDigits(y)}年${nzh.encodeS(m)}月${nzh.encodeS(d)}日`)
    .replace(/([$€£¥￥])\s?(\d[\d,]*(?:\.\d+)?)/g, (_, symbol: string, amount: string) => chineseMoney(amount, chineseCurrencies[symbol]!))
    .replace(/(\d[\d,]*(?:\.\d+)?)\s?(元|块)/g, (_, amount: string, unit: string) => (unit === '元' ? chineseMoney(amount, '元') : `${chineseNumber(amount)}块`))
    .replace(/(\d[\d,]*(?:\.\d+)?)\s?%/g, (_, n: string) => `百分之${chineseNumber(n)}`)
    .replace(/(\d{1,2}):(\d{2})/g, (_, h: string, m: string) => `${nzh.encodeS(h)}点${m === '00' ? '' : `${nzh.encodeS(m)}分`}`)
    .replace(/-(\d)/g, '负$1')
    .replace(/\d[\d,]*(?:\.\d+)?/g, (n) => chineseNumber(n));
}

const han = /\p{Script=Han}/u;

/**
 * The text with numbers and the like in words. English and Chinese rules; other languages
 * pass through (the synthesizers read their digits themselves).
 */
export function normaliseText(text: string, language: string | null): string {
  const effective = language ?? (han.test(text) ? 'zh' : 'en');
  if (effective === 'zh') return normaliseChinese(text);
  if (effective === 'en') return normaliseEnglish(text);
  return text;
}
