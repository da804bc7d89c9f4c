// Conversations and their messages as the client knows them. Messages come from history pages, live
// pushes, the connect-time sync and acks of our own sends, in any order and possibly more than once:
// each is kept once (by server id, or by client_msg_id for our own) and in conversation_seq order.

export const ChatType = Object.freeze({ SINGLE: 0, GROUP: 1 });

/** s_<smaller id>_<larger id> in the numeric order of the 64-bit ids, as the server names it. */
export function singleConversationId(a, b) {
  const [x, y] = [BigInt(a), BigInt(b)];
  return x < y ? `s_${x}_${y}` : `s_${y}_${x}`;
}

export function groupConversationId(groupId) {
  return `g_${groupId}`;
}

/** A message of the wire (JSON Msg; 64-bit numbers as strings, zero values left out) as kept here. */
export function fromWire(m) {
  return {
    id: m.id ? String(m.id) : null,
    clientMsgId: m.client_msg_id || null,
    from: String(m.from_user_id ?? ''),
    content: m.content ?? '',
    msgType: Number(m.msg_type ?? 0),
    seq: m.conversation_seq ? Number(m.conversation_seq) : null,
    sentAt: m.sent_at ? Number(m.sent_at) : Date.now(),
    status: Number(m.status ?? 0),
    state: 'sent',
    error: null,
  };
}

export class Conversation {
  constructor(id, chatType, peerId) {
    this.id = id;
    this.chatType = chatType;
    this.peerId = peerId;      // the other user's id, or the group's
    this.messages = [];        // with a seq in seq order, then our unanswered ones in send order
    this.byId = new Map();
    this.byClientId = new Map();
    this.unread = 0;
    this.countedUpTo = 0;      // seqs up to here are in `unread` already (the server's count at load time)
    this.lastSeq = 0;
    this.readSent = 0;         // our READ receipt went up to here
    this.peerArrived = 0;      // the other side's receipts (for a group: any member's)
    this.peerRead = 0;
    this.lastActivity = 0;
    this.preview = '';
    this.historyLoaded = false;
    this.hasOlder = false;     // the server has messages before the oldest one here
    this.loadingOlder = false;
  }

  /**
   * Adds a message or completes the one already here (our pending send, once acknowledged).
   * Returns true when the message is new to this conversation.
   */
  upsert(record, me) {
    let existing = record.id ? this.byId.get(record.id) : undefined;
    if (!existing && record.clientMsgId && record.from === me) existing = this.byClientId.get(record.clientMsgId);
    if (existing) {
      if (record.id && !existing.id) {
        existing.id = record.id;
        this.byId.set(record.id, existing);
      }
      if (record.seq && !existing.seq) {
        existing.seq = record.seq;
        existing.sentAt = record.sentAt;
        this.resort();
      }
      if (existing.state === 'pending' || existing.state === 'failed') {
        existing.state = 'sent';
        existing.error = null;
      }
      this.observe(existing);
      return false;
    }
    if (record.id) this.byId.set(record.id, record);
    if (record.clientMsgId && record.from === me) this.byClientId.set(record.clientMsgId, record);
    this.insert(record);
    this.observe(record);
    return true;
  }

  insert(record) {
    if (record.seq === null) {
      this.messages.push(record);
      return;
    }
    // Mostly appended at the end of the sequenced ones; the search walks back past any pending sends.
    let i = this.messages.length;
    while (i > 0 && (this.messages[i - 1].seq === null || this.messages[i - 1].seq > record.seq)) i--;
    this.messages.splice(i, 0, record);
  }

  resort() {
    const sequenced = this.messages.filter((m) => m.seq !== null).sort((a, b) => a.seq - b.seq);
    const pending = this.messages.filter((m) => m.seq === null);
    this.messages = [...sequenced, ...pending];
  }

  observe(record) {
    if (record.seq && record.seq > this.lastSeq) this.lastSeq = record.seq;
    if (record.sentAt >= this.lastActivity) {
      this.lastActivity = record.sentAt;
      this.preview = record.content;
    }
  }

  /** The tick of one of our messages: sending, sent, delivered, read or failed. */
  tick(record) {
    if (record.state === 'pending' || record.state === 'failed') return record.state === 'pending' ? 'sending' : 'failed';
    if (record.seq !== null && record.seq <= this.peerRead) return 'read';
    if (record.seq !== null && record.seq <= this.peerArrived) return 'delivered';
    return 'sent';
  }
}
