// The long connection: WebSocket + JSON frames (DESIGN.md "Wire protocol"). It authenticates with the
// heartbeat, keeps the connection alive, reconnects with backoff when it drops, and resends every chat
// message not yet acknowledged with its original client_msg_id (the server stores a resend once).

export const MsgType = Object.freeze({ TEXT: 0, EVENT: 4, NOTIFY: 5 });
export const Status = Object.freeze({ FAIL: 0, SENT: 1, ARRIVED: 2, READ: 3 });

const HEARTBEAT_MS = 60_000;         // well inside Gateway:DropAfter (300 s)
const CONNECT_TIMEOUT_MS = 10_000;   // a socket that neither opens nor fails is given up
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const RECEIPT_DELAY_MS = 100;        // receipts for a burst of messages go as one per conversation

/** The event payload of a frame's content: a string of JSON text or an embedded object. */
export function parseContent(content) {
  if (content === undefined || content === null || content === '') return {};
  if (typeof content === 'object') return content;
  try {
    return JSON.parse(content);
  } catch {
    return {};
  }
}

/** The page's own origin, so it works on either port and behind a proxy (wss:// under https). */
export function webSocketUrl(location = window.location) {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

export class Connection {
  /**
   * @param {object} options userId, deviceId, getToken(), and the handlers onFrame(msg), onState(state, detail),
   *   onAuthFailed(reason): a promise that resolves true to reconnect (after a token refresh) or false to stop.
   */
  constructor(options) {
    this.options = options;
    this.url = options.url ?? webSocketUrl();
    this.socket = null;
    this.authenticated = false;
    this.sentToken = null;       // the access token the server last accepted on this socket
    this.stopped = true;
    this.attempts = 0;
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.receiptTimer = null;
    this.outbox = new Map();    // client_msg_id -> frame, in send order, until the SENT (or FAIL) answer
    this.receipts = new Map();  // "KEY conversation" -> highest seq not yet sent
    this.onOnline = () => { if (!this.socket && !this.stopped) this.connectNow(); };
  }

  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connectNow();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.receiptTimer);
    this.receiptTimer = null;
    clearInterval(this.heartbeatTimer);
    const socket = this.socket;
    this.socket = null;
    this.authenticated = false;
    socket?.close(1000, 'bye');
    this.options.onState('stopped');
  }

  /** Closes the socket as a network failure would; the connection comes back by itself. */
  drop() {
    this.socket?.close(4000, 'dropped by the client');
  }

  get online() { return this.authenticated && this.socket?.readyState === WebSocket.OPEN; }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped || this.socket) return;
    this.options.onState('connecting');
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.scheduleReconnect(String(error));
      return;
    }
    this.socket = socket;
    this.authenticated = false;
    const openTimeout = setTimeout(() => socket.close(4001, 'connect timeout'), CONNECT_TIMEOUT_MS);
    socket.onopen = () => {
      clearTimeout(openTimeout);
      this.sentToken = this.options.getToken();
      this.write({
        msg_type: MsgType.EVENT,
        from_user_id: this.options.userId,
        access_token: this.sentToken,
        content: JSON.stringify({ key: 'KEEP_ALIVE', device_id: this.options.deviceId }),
      });
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return; // this client speaks JSON; the server answers in kind
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(socket, msg);
    };
    socket.onclose = (event) => {
      clearTimeout(openTimeout);
      if (this.socket !== socket) return;
      this.socket = null;
      this.authenticated = false;
      clearInterval(this.heartbeatTimer);
      if (!this.stopped) this.scheduleReconnect(event.reason || `closed (${event.code})`);
    };
  }

  receive(socket, msg) {
    const type = Number(msg.msg_type ?? 0);
    const content = type === MsgType.EVENT || type === MsgType.NOTIFY ? parseContent(msg.content) : null;
    if (!this.authenticated) {
      if (type === MsgType.EVENT && content?.code === 200 && content?.data?.key === 'KEEP_ALIVE') {
        this.authenticated = true;
        this.attempts = 0;
        this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
        this.options.onState('online');
        for (const frame of this.outbox.values()) this.write(frame);
        this.flushReceipts();
        return;
      }
      if (type === MsgType.NOTIFY && content?.code === 401) {
        // The token is no good: retrying it would only be refused again.
        this.socket = null;
        socket.onclose = null;
        socket.close();
        this.options.onState('offline', content.msg);
        Promise.resolve(this.options.onAuthFailed(content.msg)).then((again) => {
          if (again && !this.stopped) this.connectNow();
        });
        return;
      }
    }
    this.options.onFrame(msg, content);
  }

  /**
   * A heartbeat; once the token was refreshed it carries the fresh one, which renews the socket (the server
   * closes a socket whose access token expired, docs/protocol.md section 3).
   */
  heartbeat() {
    const frame = { msg_type: MsgType.EVENT, content: JSON.stringify({ key: 'KEEP_ALIVE' }) };
    const token = this.options.getToken();
    if (token && token !== this.sentToken) {
      frame.access_token = token;
      this.sentToken = token;
    }
    this.write(frame);
  }

  /** Renews the live socket with the current token now (after a refresh), rather than at the next heartbeat. */
  renew() {
    if (this.online) this.heartbeat();
  }

  scheduleReconnect(reason) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempts);
    const delay = Math.round(base / 2 + Math.random() * base / 2); // jitter: clients that lost one server do not all return at once
    this.attempts = Math.min(this.attempts + 1, 10);
    this.options.onState('offline', reason, delay);
    this.retryTimer = setTimeout(() => this.connectNow(), delay);
  }

  write(frame) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** A chat message: sent now if online, and again after each reconnect until answered. */
  sendChat(frame) {
    this.outbox.set(frame.client_msg_id, frame);
    if (this.online) this.write(frame);
  }

  /** The server answered the message (SENT or FAIL): no more resends. */
  answered(clientMsgId) {
    this.outbox.delete(clientMsgId);
  }

  /** ARRIVED or READ up to seq; several for one conversation go as one, the highest. */
  receipt(key, conversationId, seq) {
    const name = `${key} ${conversationId}`;
    if ((this.receipts.get(name) ?? 0) >= seq) return;
    this.receipts.set(name, seq);
    if (!this.receiptTimer) this.receiptTimer = setTimeout(() => this.flushReceipts(), RECEIPT_DELAY_MS);
  }

  flushReceipts() {
    clearTimeout(this.receiptTimer);
    this.receiptTimer = null;
    if (!this.online) return; // kept for the next connection: receipts only move cursors forward
    for (const [name, seq] of this.receipts) {
      const [key, conversationId] = name.split(' ');
      this.write({ msg_type: MsgType.EVENT, content: JSON.stringify({ key, conversation_id: conversationId, seq }) });
    }
    this.receipts.clear();
  }

  /**
   * SYNC from this tab's own cursors (conversation id -> last seq it has): the server pushes what came
   * after each, then the SYNC event. The connect-time sync starts from the user's ARRIVED cursor,
   * which another device of the same user may have moved past messages this tab never got. With `after`
   * (this tab's position in the user's update stream), the server also writes the friend and group events
   * after it, and the messages after it in every conversation the cursors do not name.
   */
  sync(cursors, after) {
    const content = after > 0 ? { key: 'SYNC', after, conversations: cursors } : { key: 'SYNC', conversations: cursors };
    if (this.online) this.write({ msg_type: MsgType.EVENT, content: JSON.stringify(content) });
  }

  /** TYPING to a user (chat_type 0) or a group (1). */
  typing(toId, chatType) {
    if (this.online) this.write({ msg_type: MsgType.EVENT, to_user_id: toId, chat_type: chatType, content: JSON.stringify({ key: 'TYPING' }) });
  }
}
