const ADJECTIVES = [
  'amber',
  'brave',
  'calm',
  'clever',
  'cosy',
  'eager',
  'gentle',
  'golden',
  'happy',
  'jolly',
  'lively',
  'lucky',
  'merry',
  'quiet',
  'rapid',
  'shiny',
  'sunny',
  'swift',
  'tidy',
  'witty',
]
const NOUNS = [
  'badger',
  'comet',
  'falcon',
  'fern',
  'harbor',
  'heron',
  'island',
  'lantern',
  'maple',
  'meadow',
  'otter',
  'pebble',
  'puffin',
  'river',
  'robin',
  'summit',
  'tiger',
  'valley',
  'willow',
  'zebra',
]

const pick = <T>(items: readonly T[]) => items[crypto.getRandomValues(new Uint32Array(1))[0] % items.length]

/** A random, readable room name such as `brave-otter-417`. */
export function randomRoomName(): string {
  const number = 100 + (crypto.getRandomValues(new Uint32Array(1))[0] % 900)
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${number}`
}
