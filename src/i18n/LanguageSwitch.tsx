import { useTranslation } from 'react-i18next'
import { LANGUAGES, setLanguage, type Language } from '.'

/** A picker for the app's language, remembered for the next visit. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation()
  return (
    <label className="language">
      <span className="visually-hidden">{t('language.label')}</span>
      <select data-testid="language" value={i18n.language} onChange={(event) => setLanguage(event.target.value as Language)}>
        {LANGUAGES.map((lng) => (
          <option key={lng} value={lng} lang={lng}>
            {t(`language.${lng}`)}
          </option>
        ))}
      </select>
    </label>
  )
}
