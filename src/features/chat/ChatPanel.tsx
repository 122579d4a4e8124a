import { X } from 'lucide-react'
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { MAX_CHAT_LENGTH } from '../../../protocol/channel'
import { CallContext } from '../../shared/callContext'

/** Chat over the per-pair data channels. */
export function ChatPanel({ open, onClose }: { open: boolean; onClose: () => void }) {
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
    <aside id="chat-panel" className={`chat${open ? ' open' : ''}`} aria-label="Chat">
      <header>
        <h2>Chat</h2>
        <button
          type="button"
          className="icon"
          data-testid="chat-close"
          aria-label="Close the chat"
          title="Close the chat"
          onClick={onClose}
        >
          <X size={18} aria-hidden="true" />
        </button>
      </header>
      <ol ref={list} aria-live="polite">
        {chat.map((message) => (
          <li key={`${message.from}:${message.id}`} data-testid="chat-message" className={message.self ? 'self' : undefined}>
            <strong>{message.self ? 'You' : message.name}</strong>
            <time dateTime={new Date(message.sentAt).toISOString()}>
              {new Date(message.sentAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
            </time>
            <p>{message.text}</p>
          </li>
        ))}
      </ol>
      <form onSubmit={send}>
        <label htmlFor="chat-input" className="visually-hidden">
          Message everyone
        </label>
        <input
          id="chat-input"
          data-testid="chat-input"
          value={text}
          maxLength={MAX_CHAT_LENGTH}
          placeholder="Message everyone"
          autoComplete="off"
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" disabled={!text.trim()}>
          Send
        </button>
      </form>
    </aside>
  )
}
