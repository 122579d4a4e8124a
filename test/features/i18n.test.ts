import { describe, expect, it } from 'vitest'
import { en } from '../../src/i18n/en'
import { fr } from '../../src/i18n/fr'
import { browserLanguage, i18n } from '../../src/i18n'

/** Every key path of a catalog, with the placeholders each string uses. */
function entries(catalog: object, prefix = ''): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const [key, value] of Object.entries(catalog)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (typeof value === 'string') out.set(path, [...value.matchAll(/\{\{(\w+)\}\}|<(\w+)>/g)].map((m) => m[1] ?? m[2]).sort())
    else for (const [k, v] of entries(value as object, path)) out.set(k, v)
  }
  return out
}

describe('the message catalogs', () => {
  it('French has every English key, and no other, with the same placeholders', () => {
    const english = entries(en)
    const french = entries(fr)
    expect([...french.keys()].sort()).toEqual([...english.keys()].sort())
    for (const [key, placeholders] of english) expect(french.get(key), key).toEqual(placeholders)
    // Nothing left untranslated by copy and paste, beyond words the two languages share.
    const same = [...english].filter(([key]) => en !== null && get(en, key) === get(fr, key)).map(([key]) => key)
    expect(same.sort()).toEqual(
      ['call.participants_one', 'call.participants_other', 'call.stage', 'language.en', 'language.fr', 'tile.direct'].sort(),
    )
  })

  it('plurals and counts follow each language', async () => {
    const t = i18n.getFixedT('en')
    expect([0, 1, 2].map((count) => t('call.participants', { count }))).toEqual(['0 participants', '1 participant', '2 participants'])
    const tf = i18n.getFixedT('fr')
    // French counts 0 and 1 as singular.
    expect([0, 1, 2].map((count) => tf('controls.unread', { count }))).toEqual([
      '0 message non lu',
      '1 message non lu',
      '2 messages non lus',
    ])
  })

  it("follows the browser's first language that the app has, else English", () => {
    expect(browserLanguage(['fr-FR', 'en-US'])).toBe('fr')
    expect(browserLanguage(['de-DE', 'fr-CA'])).toBe('fr')
    expect(browserLanguage(['de-DE', 'es'])).toBe('en')
    expect(browserLanguage([])).toBe('en')
  })
})

function get(catalog: object, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], catalog)
}
