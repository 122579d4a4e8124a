import { X } from 'lucide-react'
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'
import { MAX_CHAT_LENGTH } from '../../../protocol/channel'
import { CallContext } from '../../shared/callContext'

/** Chat over the per-pair data channels. */
export function ChatPanel({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t, i18n } = useTranslation()
  const call = CallContext.useActorRef()
  const chat = CallContext.useSelector((s) => s.context.chat)
  const [text, setText] = useState('')
  const list = useRef<HTMLOListElement>(null)
  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: 'end' })
  }, [chat.length])

  const send = (event: FormEvent) => {
    event.preventDefault()
    if (!text.trim()) return
    call.send({ type: 'ui.chat', text })
    setText('')
  }
  return (
    <aside id="chat-panel" className={`chat${open ? ' open' : ''}`} aria-label={t('chat.title')}>
      <header>
        <h2>{t('chat.title')}</h2>
        <button
          type="button"
          className="icon"
          data-testid="chat-close"
          aria-label={t('chat.close')}
          title={t('chat.close')}
          onClick={onClose}
        >
          <X size={18} aria-hidden="true" />
        </button>
      </header>
      <ol ref={list} aria-live="polite">
        {chat.map((message) => (
          <li key={`${message.from}:${message.id}`} data-testid="chat-message" className={message.self ? 'self' : undefined}>
            <strong>{message.self ? t('chat.you') : message.name}</strong>
            <time dateTime={new Date(message.sentAt).toISOString()}>
              {new Date(message.sentAt).toLocaleTimeString(i18n.language, { hour: '2-digit', minute: '2-digit' })}
            </time>
            <p>{message.text}</p>
          </li>
        ))}
      </ol>
      <form onSubmit={send}>
        <label htmlFor="chat-input" className="visually-hidden">
          {t('chat.placeholder')}
        </label>
        <input
          id="chat-input"
          data-testid="chat-input"
          value={text}
          maxLength={MAX_CHAT_LENGTH}
          placeholder={t('chat.placeholder')}
          autoComplete="off"
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" disabled={!text.trim()}>
          {t('chat.send')}
        </button>
      </form>
    </aside>
  )
}
