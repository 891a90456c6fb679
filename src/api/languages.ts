/** DashScope's `language_type` values and the ISO codes the rest of Timbre uses. */
const codesByType = {
  Auto: null,
  Chinese: 'zh',
  English: 'en',
  German: 'de',
  Italian: 'it',
  Portuguese: 'pt',
  Spanish: 'es',
  Japanese: 'ja',
  Korean: 'ko',
  French: 'fr',
  Russian: 'ru',
} as const;

export type LanguageType = keyof typeof codesByType;
export const languageTypes = Object.keys(codesByType) as [LanguageType, ...LanguageType[]];

export function languageOfType(type: LanguageType): string | null {
  return codesByType[type];
}
