/**
 * The app's languages, through i18next: English and French. The language
 * follows the browser's (`navigator.languages`) until someone picks one,
 * which is remembered; `<html lang>` always names the language shown.
 */
import i18next from 'i18next'
import { initReactI18next } from 'react-i18next'
import { en } from './en'
import { fr } from './fr'

export const LANGUAGES = ['en', 'fr'] as const
export type Language = (typeof LANGUAGES)[number]
const STORAGE_KEY = 'meshcall.lang'

const isLanguage = (value: unknown): value is Language => LANGUAGES.includes(value as Language)

function stored(): Language | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY)
    return isLanguage(value) ? value : null
  } catch {
    return null
  }
}

/** The browser's first preferred language that the app has, else English. */
export function browserLanguage(preferred: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages): Language {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0]
    if (isLanguage(base)) return base
  }
  return 'en'
}

export const i18n = i18next.createInstance()
void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, fr: { translation: fr } },
  lng: stored() ?? browserLanguage(),
  fallbackLng: 'en',
  supportedLngs: LANGUAGES,
  // React escapes what it renders.
  interpolation: { escapeValue: false },
  initAsync: false,
})

const showLang = (lng: string) => {
  if (typeof document !== 'undefined') document.documentElement.lang = lng
}
showLang(i18n.language)
i18n.on('languageChanged', showLang)

/** Switches the language, and remembers the choice. */
export function setLanguage(lng: Language): void {
  try {
    localStorage.setItem(STORAGE_KEY, lng)
  } catch {
    // Storage refused (a private window): the choice lasts for this page.
  }
  void i18n.changeLanguage(lng)
}
