// The EasyIm web client: sign-in, friends, one-to-one and group chat over the gateway's WebSocket.
import { Api, ApiError, HISTORY_PAGE } from './api.js';
import { Connection, MsgType, Status } from './connection.js';
import { ChatType, Conversation, fromWire, groupConversationId, singleConversationId } from './store.js';

const SESSION_KEY = 'easyim.session';
const TYPING_SHOWN_MS = 4000;
const TYPING_EVERY_MS = 3000;
const SYNC_MAX_CONVERSATIONS = 500;
const LOAD_OLDER_WITHIN_PX = 40;     // scrolled this close to the top: the previous page is fetched

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

/** A random id that needs no secure context (crypto.randomUUID does, and the page may be plain http on a LAN). */
function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

let session = null;          // {id, account, nickname, access_token, refresh_token}
let connection = null;
let clientSeq = 1;
const deviceId = randomId('web-');
const api = new Api(() => session?.access_token);
const friends = new Map();   // id -> {id, account, nickname}
const people = new Map();    // id -> {account, nickname}: friends, group members, search results
const groups = new Map();    // id -> {id, name, member_count}
const groupMembers = new Map(); // group id -> [{id, account, nickname, role}], once loaded
const conversations = new Map();
const pendingSends = new Map(); // client_msg_id -> conversation, until answered
let openId = null;
let connectedBefore = false;  // this tab has been online since sign-in: a reconnect syncs from its cursors
// The update stream: every message and friend or group event takes the user's next position. This tab applied
// every one up to streamPosition; later ones that came early wait in streamAhead until the gap closes, or a
// short wait asks the server for what follows streamPosition.
let streamPosition = 0;
const streamAhead = new Set();
let streamGapTimer = null;
const STREAM_GAP_MS = 1000;
let typingTimer = null;
let lastTypingSent = 0;

// ---- sign-in ---------------------------------------------------------------------------------

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const action = event.submitter?.value ?? 'login';
  const account = $('account').value.trim();
  const password = $('password').value;
  const nickname = $('nickname').value.trim();
  const error = $('sign-in-error');
  error.textContent = '';
  if (!account || !password) {
    error.textContent = 'Enter your account and password.';
    return;
  }
  const buttons = event.currentTarget.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const data = action === 'register' ? await api.register(account, password, nickname) : await api.login(account, password);
    $('password').value = '';
    startSession({
      id: String(data.id), account, nickname: data.nickname || account,
      access_token: data.access_token, refresh_token: data.refresh_token,
      access_expires_at: Date.now() + Number(data.expires_in ?? 0) * 1000,
    });
  } catch (e) {
    error.textContent = e instanceof ApiError ? e.message : String(e);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
});

$('logout').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch {
    // Signing out locally is what the user asked for, whether or not the server heard it.
  }
  endSession('');
});

function startSession(value) {
  session = value;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  $('sign-in').hidden = true;
  $('chat').hidden = false;
  $('me').textContent = `Signed in as ${session.nickname} (${session.account})`;
  document.title = `EasyIm — ${session.nickname}`;
  connection = new Connection({
    userId: session.id,
    deviceId,
    getToken: () => session?.access_token,
    onFrame,
    onState: (state, detail) => {
      showConnectionState(state, detail);
      if (state === 'online') onConnected();
    },
    onAuthFailed: async () => (await refreshToken()) || (endSession('Your session has ended; log in again.'), false),
  });
  loadAll().finally(() => connection?.start());
  scheduleRefresh();
}

function endSession(message) {
  connection?.stop();
  connection = null;
  clearTimeout(refreshTimer);
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
  for (const map of [friends, people, groups, groupMembers, conversations, pendingSends]) map.clear();
  openId = null;
  connectedBefore = false;
  streamPosition = 0;
  streamAhead.clear();
  clearTimeout(streamGapTimer);
  $('chat').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $('conversations').replaceChildren();
  $('messages').replaceChildren();
  messageNodes.clear();
  messagesShown = null;
  $('requests').replaceChildren();
  $('search-results').replaceChildren();
  $('search-section').hidden = true;
  closePane();
  document.title = 'EasyIm';
}

// A refresh rotates the refresh token: the one sent stops working, and sending it again would revoke the
// whole session (the server takes it for a stolen copy). So one refresh at a time, whoever asks.
let refreshing = null;
let refreshTimer = null;

function refreshToken() {
  refreshing ??= refreshOnce().finally(() => { refreshing = null; });
  return refreshing;
}

async function refreshOnce() {
  if (!session?.refresh_token) return false;
  const current = session;
  try {
    const data = await api.refresh(current.refresh_token);
    if (session !== current) return false; // signed out meanwhile
    session.access_token = data.access_token ?? data.token;
    if (data.refresh_token) session.refresh_token = data.refresh_token;
    session.access_expires_at = Date.now() + Number(data.access_expires_in ?? data.expires_in ?? 0) * 1000;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    connection?.renew();
    scheduleRefresh();
    return true;
  } catch {
    return false;
  }
}

/** Refreshes when four fifths of the access token's life have passed, so the live socket is renewed before it expires. */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session?.access_expires_at) return;
  const lifeLeft = session.access_expires_at - Date.now();
  refreshTimer = setTimeout(() => refreshToken(), Math.max(1000, lifeLeft * 0.8));
}

/** An API call that refreshes an expired token once, and reports other failures beside the list. */
async function call(fn, errorTarget = $('side-error')) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && e.code === 401 && await refreshToken()) return fn();
    if (e instanceof ApiError && e.code === 401) endSession('Your session has ended; log in again.');
    else errorTarget.textContent = e.message;
    throw e;
  }
}

// ---- loading ---------------------------------------------------------------------------------

async function loadAll() {
  // The position first: whatever comes after it reaches this tab live, or by the reconnect's SYNC.
  try {
    streamPosition = Number((await api.streamHead()).last ?? 0);
  } catch {
    streamPosition = 0; // a reconnect then syncs by cursors alone, as before
  }
  const [friendsLoaded, groupsLoaded] = (await Promise.allSettled([loadFriends(), loadGroups(), loadRequests()]))
    .map((r) => r.status === 'fulfilled');
  try {
    const list = await call(() => api.conversations());
    for (const item of list.items ?? []) {
      const chatType = Number(item.chat_type ?? 0);
      const peerId = String(item.peer_id);
      // Chats with a former friend or a group left stay out of the list (as when they ended while we watched).
      if (chatType === ChatType.GROUP ? groupsLoaded && !groups.has(peerId) : friendsLoaded && !friends.has(peerId)) continue;
      const conv = conversationFor(item.conversation_id, chatType, peerId);
      const last = item.last_message ? fromWire(item.last_message) : null;
      if (last) {
        conv.lastSeq = Math.max(conv.lastSeq, last.seq ?? 0);
        conv.countedUpTo = Math.max(conv.countedUpTo, last.seq ?? 0);
        conv.lastActivity = Math.max(conv.lastActivity, last.sentAt);
        conv.preview = last.content;
      }
      conv.unread = Number(item.unread ?? 0);
    }
  } catch {
    // Shown beside the list; the conversations still come with the next messages.
  }
  renderConversations();
}

async function loadFriends() {
  const data = await call(() => api.friends());
  const before = [...friends.keys()];
  friends.clear();
  for (const f of data.items ?? []) {
    const friend = { id: String(f.id), account: f.account, nickname: f.nickname || f.account };
    friends.set(friend.id, friend);
    people.set(friend.id, friend);
    conversationFor(singleConversationId(session.id, friend.id), ChatType.SINGLE, friend.id);
  }
  for (const id of before) if (!friends.has(id)) dropConversation(singleConversationId(session.id, id));
  renderConversations();
  renderGroupMembers();
}

async function loadGroups() {
  const data = await call(() => api.groups());
  const listed = new Set();
  for (const g of data.items ?? []) {
    const group = { id: String(g.id), name: g.name, member_count: Number(g.member_count) };
    listed.add(group.id);
    groups.set(group.id, group);
    conversationFor(groupConversationId(group.id), ChatType.GROUP, group.id);
  }
  // Groups we left (on another device, say) or that a straggling message brought back after leaving.
  for (const conv of [...conversations.values()]) {
    if (conv.chatType === ChatType.GROUP && !listed.has(conv.peerId)) forgetGroup(conv.peerId);
  }
  renderConversations();
  renderPaneHead();
}

async function loadMembers(groupId) {
  const data = await call(() => api.groupMembers(groupId), $('pane-error'));
  const members = (data.items ?? []).map((m) => ({ id: String(m.id), account: m.account, nickname: m.nickname || m.account, role: m.role }));
  for (const m of members) people.set(m.id, { account: m.account, nickname: m.nickname });
  groupMembers.set(groupId, members);
  const group = groups.get(groupId);
  if (group) group.member_count = members.length;
  renderPaneHead();
  renderMemberList();
  return members;
}

async function loadRequests() {
  const data = await call(() => api.requests());
  const items = data.items ?? [];
  $('requests-section').hidden = items.length === 0;
  $('requests').replaceChildren(...items.map((r) => {
    const name = r.nickname || r.account;
    const accept = el('button', { type: 'button', class: 'primary', 'aria-label': `Accept ${name}`, text: 'Accept' });
    accept.addEventListener('click', async () => {
      accept.disabled = true;
      try {
        await call(() => api.accept(String(r.id)));
        await Promise.all([loadFriends(), loadRequests()]);
      } catch {
        accept.disabled = false;
      }
    });
    const reject = el('button', { type: 'button', 'aria-label': `Reject ${name}`, text: 'Reject' });
    reject.addEventListener('click', async () => {
      accept.disabled = true;
      reject.disabled = true;
      try {
        await call(() => api.reject(String(r.id)));
        await loadRequests();
      } catch {
        accept.disabled = false;
        reject.disabled = false;
      }
    });
    return el('li', {}, el('span', { class: 'who' }, name, r.msg ? el('small', { text: r.msg }) : null),
      el('span', { class: 'actions' }, accept, reject));
  }));
}

async function loadHistory(conv) {
  conv.historyLoaded = true;
  try {
    addHistoryPage(conv, await call(() => api.history(conv.id), $('pane-error')));
    if (conv.chatType === ChatType.GROUP) await loadMembers(conv.peerId);
  } catch {
    conv.historyLoaded = false;
  }
  if (openId === conv.id) {
    renderMessages();
    renderHistoryHead();
    markRead(conv);
  }
}

/** A page of history (newest first): kept once each; a short page, or seq 1, means nothing is older. */
function addHistoryPage(conv, page) {
  const items = (page.items ?? []).map(fromWire);
  for (const record of items) addStored(conv, record);
  const oldest = Math.min(...items.map((m) => m.seq ?? Infinity));
  conv.hasOlder = items.length >= HISTORY_PAGE && oldest > 1;
}

/** The page before the oldest message here, keeping what is on screen where it is. */
async function loadOlder(conv) {
  if (conv.loadingOlder || !conv.hasOlder || !conv.historyLoaded) return;
  const oldest = conv.messages.find((m) => m.seq !== null)?.seq;
  if (!oldest || oldest <= 1) {
    conv.hasOlder = false;
    renderHistoryHead();
    return;
  }
  conv.loadingOlder = true;
  renderHistoryHead();
  try {
    const page = await call(() => api.history(conv.id, oldest), $('pane-error'));
    const list = $('messages');
    const fromBottom = list.scrollHeight - list.scrollTop;
    addHistoryPage(conv, page);
    if (openId === conv.id) {
      renderMessages('keep');
      list.scrollTop = list.scrollHeight - fromBottom;
    }
  } catch {
    // Shown above the messages; the button stays for another try.
  } finally {
    conv.loadingOlder = false;
    if (openId === conv.id) renderHistoryHead();
  }
}

// ---- frames from the server ------------------------------------------------------------------

function onConnected() {
  // The first connection follows the HTTP load (conversation list, history on opening a chat); after a
  // reconnect, ask for everything after what this tab has, whoever else acknowledged it meanwhile.
  if (connectedBefore) {
    // The most recently active ones: a frame stays well under the server's 64 KiB (about 50 bytes each).
    const recent = [...conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity).slice(0, SYNC_MAX_CONVERSATIONS);
    syncAfter(recent);
  }
  connectedBefore = true;
  // A READ written just before the connection died may never have reached the server: say it again
  // (receipts only move cursors forward, so a repeat changes nothing).
  const conv = conversations.get(openId);
  if (conv && isReading(conv)) {
    conv.readSent = 0;
    markRead(conv);
  }
}

/** SYNC after this tab's position (friend and group events, every message), with the cursors of its chats (large groups have no positions). */
function syncAfter(recent) {
  const chats = recent ?? [...conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity).slice(0, SYNC_MAX_CONVERSATIONS);
  connection.sync(Object.fromEntries(chats.map((conv) => [conv.id, conv.lastSeq])), streamPosition);
}

/** A frame's stream position: the next one moves streamPosition on; a later one waits, and a gap left open asks the server. */
function onPosition(position) {
  if (!(position > streamPosition)) return;
  if (position > streamPosition + 1) {
    streamAhead.add(position);
    if (!streamGapTimer) streamGapTimer = setTimeout(() => {
      streamGapTimer = null;
      if (streamAhead.size > 0 && connection?.online) syncAfter(); // its SYNC done's head closes the gap
    }, STREAM_GAP_MS);
    return;
  }
  advanceTo(position);
}

/** Everything up to position is applied: so is what waited just past it. */
function advanceTo(position) {
  streamPosition = Math.max(streamPosition, position);
  for (const p of [...streamAhead]) if (p <= streamPosition) streamAhead.delete(p);
  while (streamAhead.delete(streamPosition + 1)) streamPosition++;
  if (streamAhead.size === 0) {
    clearTimeout(streamGapTimer);
    streamGapTimer = null;
  }
}

function onFrame(msg, content) {
  const type = Number(msg.msg_type ?? 0);
  if (type === MsgType.EVENT && content?.data?.key === 'SYNC' && Number(content.data.head) > 0) {
    advanceTo(Number(content.data.head)); // a sync after a position brought everything up to head
  } else if (type === MsgType.EVENT) onPosition(Number(content?.data?.position ?? 0));
  else if (type !== MsgType.NOTIFY && !msg.error) onPosition(Number(msg.position ?? 0));
  if (type === MsgType.EVENT) onEvent(msg, content?.data ?? {});
  else if (type === MsgType.NOTIFY) $('side-error').textContent = content?.msg ?? 'The server refused a frame.';
  else onChat(msg);
}

function onChat(msg) {
  const mine = String(msg.from_user_id ?? '') === session.id;
  if (mine && msg.error) {
    // FAIL: the server refused the message (not a friend, too long, ...). Resending would not help.
    connection.answered(msg.client_msg_id);
    const conv = pendingSends.get(msg.client_msg_id);
    pendingSends.delete(msg.client_msg_id);
    const record = conv?.byClientId.get(msg.client_msg_id);
    if (record) {
      record.state = 'failed';
      record.error = msg.error;
      if (conv.id === openId) renderMessages();
    }
    return;
  }
  if (!msg.conversation_id) return;
  const chatType = Number(msg.chat_type ?? 0);
  const peerId = chatType === ChatType.GROUP ? String(msg.to_user_id) : String(mine ? msg.to_user_id : msg.from_user_id);
  const conv = conversationFor(msg.conversation_id, chatType, peerId);
  if (chatType === ChatType.GROUP && !groups.has(peerId)) loadGroups().catch(() => {});
  const record = fromWire(msg);
  if (mine) {
    connection.answered(record.clientMsgId);
    pendingSends.delete(record.clientMsgId);
  }
  const isNew = addStored(conv, record);
  if (!mine && record.seq) {
    connection.receipt('ARRIVED', conv.id, record.seq);
    if (isNew && record.seq > conv.countedUpTo) {
      conv.countedUpTo = record.seq;
      if (isReading(conv)) markRead(conv);
      else conv.unread += 1;
    }
  }
  if (conv.id === openId) renderMessages();
  renderConversations();
}

/** A stored message: kept once; a READ or ARRIVED status on one of ours moves the other side's cursor. */
function addStored(conv, record) {
  const isNew = conv.upsert(record, session.id);
  if (record.from === session.id && record.seq) {
    if (record.status >= Status.READ) conv.peerRead = Math.max(conv.peerRead, record.seq);
    if (record.status >= Status.ARRIVED) conv.peerArrived = Math.max(conv.peerArrived, record.seq);
  }
  return isNew;
}

function onEvent(msg, data) {
  switch (data.key) {
    case 'FRIEND_INVITE':
      loadRequests().catch(() => {});
      break;
    case 'FRIEND_AGREE':
      loadFriends().catch(() => {});
      break;
    case 'FRIEND_REMOVE': {
      // Either side of the friendship ended it, here or on another device.
      const former = String(data.user_id ?? '');
      if (friends.delete(former)) {
        dropConversation(singleConversationId(session.id, former));
        renderConversations();
        renderGroupMembers();
        renderAddMembers();
      }
      break;
    }
    case 'GROUP_JOIN':
    case 'GROUP_LEAVE': {
      const groupId = String(data.group_id ?? '');
      if (data.key === 'GROUP_LEAVE' && String(data.user_id) === session.id) {
        forgetGroup(groupId); // we left, on this device or another
        renderConversations();
        break;
      }
      const group = groups.get(groupId);
      if (!group) {
        loadGroups().catch(() => {}); // added to a group: it shows at once, before its first message
        break;
      }
      group.member_count = Number(data.member_count ?? group.member_count);
      if (groupMembers.has(groupId)) loadMembers(groupId).catch(() => {});
      renderPaneHead();
      break;
    }
    case 'ARRIVED':
    case 'READ': {
      if (String(data.user_id ?? msg.from_user_id) === session.id) break; // our other devices
      const conv = conversations.get(data.conversation_id);
      if (!conv) break;
      const seq = Number(data.seq ?? 0);
      conv.peerArrived = Math.max(conv.peerArrived, seq);
      if (data.key === 'READ') conv.peerRead = Math.max(conv.peerRead, seq);
      if (conv.id === openId) renderMessages();
      break;
    }
    case 'SYNC': {
      // Everything missed while away has been pushed: say what we have read in the chat on screen.
      const conv = conversations.get(openId);
      if (conv && isReading(conv)) markRead(conv);
      break;
    }
    case 'TYPING': {
      const conv = conversations.get(data.conversation_id);
      if (conv && conv.id === openId) {
        const who = nameOf(String(data.user_id ?? msg.from_user_id));
        $('typing').textContent = `${who} is typing…`;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { $('typing').textContent = ''; }, TYPING_SHOWN_MS);
      }
      break;
    }
    default:
      break;
  }
}

// ---- conversations ---------------------------------------------------------------------------

function conversationFor(id, chatType, peerId) {
  let conv = conversations.get(id);
  if (!conv) {
    conv = new Conversation(id, chatType, peerId);
    conversations.set(id, conv);
  }
  return conv;
}

function nameOf(userId) {
  const person = people.get(userId);
  return person ? person.nickname || person.account : `User ${userId}`;
}

function titleOf(conv) {
  return conv.chatType === ChatType.GROUP ? groups.get(conv.peerId)?.name ?? `Group ${conv.peerId}` : nameOf(conv.peerId);
}

/** A chat that ended (a friend removed, a group left): out of the list, and off the screen if open. */
function dropConversation(id) {
  const conv = conversations.get(id);
  if (!conv) return;
  conversations.delete(id);
  for (const [clientMsgId, c] of pendingSends) if (c === conv) pendingSends.delete(clientMsgId);
  if (openId === id) closePane();
}

function forgetGroup(groupId) {
  groups.delete(groupId);
  groupMembers.delete(groupId);
  dropConversation(groupConversationId(groupId));
}

function closePane() {
  openId = null;
  $('conversation-title').textContent = 'No chat open';
  $('typing').textContent = '';
  $('messages').replaceChildren();
  messageNodes.clear();
  messagesShown = null;
  $('composer').hidden = true;
  $('empty-pane').hidden = false;
  $('pane-error').textContent = '';
  closePanels();
  renderPaneHead();
  renderHistoryHead();
}

function closePanels() {
  for (const [panel, toggle] of [['members-panel', 'show-members'], ['add-members-form', 'add-members']]) {
    $(panel).hidden = true;
    $(toggle).setAttribute('aria-expanded', 'false');
  }
}

function isReading(conv) {
  return conv.id === openId && document.visibilityState === 'visible';
}

function markRead(conv) {
  conv.unread = 0;
  if (conv.lastSeq > conv.readSent) {
    conv.readSent = conv.lastSeq;
    connection?.receipt('READ', conv.id, conv.lastSeq);
  }
  renderConversations();
}

function openConversation(id) {
  const conv = conversations.get(id);
  if (!conv) return;
  if (openId !== id) {
    $('pane-error').textContent = '';
    closePanels();
  }
  openId = id;
  $('conversation-title').textContent = titleOf(conv);
  $('typing').textContent = '';
  $('empty-pane').hidden = true;
  $('composer').hidden = false;
  renderMessages('end');
  renderPaneHead();
  renderHistoryHead();
  markRead(conv);
  if (!conv.historyLoaded) loadHistory(conv);
  else if (conv.chatType === ChatType.GROUP) loadMembers(conv.peerId).catch(() => {});
  $('message').focus();
}

$('messages').addEventListener('scroll', () => {
  const conv = conversations.get(openId);
  if (conv?.hasOlder && $('messages').scrollTop < LOAD_OLDER_WITHIN_PX) loadOlder(conv);
});
$('load-older').addEventListener('click', () => {
  const conv = conversations.get(openId);
  if (conv) loadOlder(conv);
});

document.addEventListener('visibilitychange', () => {
  const conv = conversations.get(openId);
  if (conv && isReading(conv)) markRead(conv);
});

// ---- sending ---------------------------------------------------------------------------------

const messageBox = $('message');
messageBox.addEventListener('input', () => {
  $('send').disabled = messageBox.value.trim() === '';
  const conv = conversations.get(openId);
  if (conv && messageBox.value && Date.now() - lastTypingSent > TYPING_EVERY_MS) {
    lastTypingSent = Date.now();
    connection?.typing(conv.peerId, conv.chatType);
  }
});
messageBox.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
});

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const conv = conversations.get(openId);
  const text = messageBox.value;
  if (!conv || text.trim() === '') return; // an empty message is not a message
  const clientMsgId = randomId('w-');
  const record = {
    id: null, clientMsgId, from: session.id, content: text, msgType: 0, seq: null,
    sentAt: Date.now(), status: Status.FAIL, state: 'pending', error: null,
  };
  conv.upsert(record, session.id);
  pendingSends.set(clientMsgId, conv);
  connection.sendChat({
    to_user_id: conv.peerId, chat_type: conv.chatType, msg_type: MsgType.TEXT,
    content: text, seq: clientSeq++, client_msg_id: clientMsgId,
  });
  messageBox.value = '';
  $('send').disabled = true;
  lastTypingSent = 0;
  renderMessages('end');
  renderConversations();
});

// ---- friends and groups ----------------------------------------------------------------------

$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const keyword = $('search').value.trim();
  $('side-error').textContent = '';
  if (!keyword) return;
  let data;
  try {
    data = await call(() => api.search(keyword));
  } catch {
    return;
  }
  const items = (data.items ?? []).filter((u) => String(u.id) !== session.id);
  $('search-section').hidden = false;
  if (items.length === 0) {
    $('search-results').replaceChildren(el('li', { class: 'hint', text: `Nobody matches “${keyword}”.` }));
    return;
  }
  $('search-results').replaceChildren(...items.map((u) => {
    const id = String(u.id);
    const name = u.nickname || u.account;
    people.set(id, { account: u.account, nickname: name });
    let action;
    if (friends.has(id)) {
      action = el('button', { type: 'button', 'aria-label': `Chat with ${name}`, text: 'Chat' });
      action.addEventListener('click', () => openConversation(singleConversationId(session.id, id)));
    } else {
      action = el('button', { type: 'button', 'aria-label': `Invite ${name}`, text: 'Invite' });
      action.addEventListener('click', async () => {
        action.disabled = true;
        try {
          await call(() => api.invite(id));
          action.textContent = 'Invited';
          action.setAttribute('aria-label', `Invited ${name}`);
        } catch {
          action.disabled = false;
        }
      });
    }
    return el('li', {}, el('span', { class: 'who' }, name, el('small', { text: u.account })), action);
  }));
});

$('new-group').addEventListener('click', () => {
  const form = $('group-form');
  form.hidden = !form.hidden;
  $('new-group').setAttribute('aria-expanded', String(!form.hidden));
  if (!form.hidden) {
    renderGroupMembers();
    $('group-name').focus();
  }
});
$('group-cancel').addEventListener('click', () => {
  $('group-form').hidden = true;
  $('new-group').setAttribute('aria-expanded', 'false');
});

$('group-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('group-name').value.trim();
  const members = [...$('group-members').querySelectorAll('input:checked')].map((c) => c.value);
  $('side-error').textContent = '';
  if (!name) {
    $('side-error').textContent = 'Give the group a name.';
    return;
  }
  try {
    const data = await call(() => api.createGroup(name, members));
    const id = String(data.id);
    groups.set(id, { id, name, member_count: members.length + 1 });
    conversationFor(groupConversationId(id), ChatType.GROUP, id);
    $('group-form').hidden = true;
    $('new-group').setAttribute('aria-expanded', 'false');
    $('group-name').value = '';
    renderConversations();
    openConversation(groupConversationId(id));
  } catch {
    // shown by call()
  }
});

/** Asks in the page's own modal dialog; resolves true when the user confirms. */
function confirmAction(text, action) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = action;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

$('remove-friend').addEventListener('click', async () => {
  const conv = conversations.get(openId);
  if (!conv || conv.chatType !== ChatType.SINGLE) return;
  const name = nameOf(conv.peerId);
  if (!await confirmAction(`Remove ${name} from your friends? You will no longer be able to message each other.`, 'Remove')) return;
  $('pane-error').textContent = '';
  try {
    await call(() => api.removeFriend(conv.peerId), $('pane-error'));
  } catch {
    return;
  }
  friends.delete(conv.peerId);
  dropConversation(conv.id);
  renderConversations();
  renderGroupMembers();
});

$('leave-group').addEventListener('click', async () => {
  const conv = conversations.get(openId);
  if (!conv || conv.chatType !== ChatType.GROUP) return;
  if (!await confirmAction(`Leave ${titleOf(conv)}? You will stop getting its messages.`, 'Leave')) return;
  $('pane-error').textContent = '';
  try {
    await call(() => api.leaveGroup(conv.peerId), $('pane-error'));
  } catch {
    return;
  }
  forgetGroup(conv.peerId);
  renderConversations();
});

$('show-members').addEventListener('click', () => {
  const panel = $('members-panel');
  panel.hidden = !panel.hidden;
  $('show-members').setAttribute('aria-expanded', String(!panel.hidden));
  const conv = conversations.get(openId);
  if (!panel.hidden && conv?.chatType === ChatType.GROUP) {
    renderMemberList();
    loadMembers(conv.peerId).catch(() => {});
  }
});

$('add-members').addEventListener('click', async () => {
  const form = $('add-members-form');
  form.hidden = !form.hidden;
  $('add-members').setAttribute('aria-expanded', String(!form.hidden));
  const conv = conversations.get(openId);
  if (form.hidden || conv?.chatType !== ChatType.GROUP) return;
  renderAddMembers();
  if (!groupMembers.has(conv.peerId)) {
    try {
      await loadMembers(conv.peerId);
    } catch {
      return;
    }
    renderAddMembers();
  }
});
$('add-members-cancel').addEventListener('click', () => {
  $('add-members-form').hidden = true;
  $('add-members').setAttribute('aria-expanded', 'false');
});

$('add-members-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const conv = conversations.get(openId);
  if (conv?.chatType !== ChatType.GROUP) return;
  const ids = [...$('add-members-choices').querySelectorAll('input:checked')].map((c) => c.value);
  $('pane-error').textContent = '';
  if (ids.length === 0) {
    $('pane-error').textContent = 'Pick at least one friend to add.';
    return;
  }
  const submit = event.submitter ?? event.currentTarget.querySelector('button[type=submit]');
  submit.disabled = true;
  try {
    await call(() => api.inviteToGroup(conv.peerId, ids), $('pane-error'));
    $('add-members-form').hidden = true;
    $('add-members').setAttribute('aria-expanded', 'false');
    await loadMembers(conv.peerId);
  } catch {
    // The server's reason is on screen; the choices stay for another try.
  } finally {
    submit.disabled = false;
  }
});

/** Friends who are not in the open group yet, to tick. Not redrawn by pushes while open, so a tick stays put. */
function renderAddMembers() {
  const conv = conversations.get(openId);
  const form = $('add-members-form');
  if (form.hidden || conv?.chatType !== ChatType.GROUP) return;
  const members = groupMembers.get(conv.peerId);
  const ticked = new Set([...$('add-members-choices').querySelectorAll('input:checked')].map((c) => c.value));
  const inGroup = new Set((members ?? []).map((m) => m.id));
  const list = [...friends.values()].filter((f) => !inGroup.has(f.id)).sort((a, b) => a.nickname.localeCompare(b.nickname));
  $('add-members-choices').replaceChildren(...(!members
    ? [el('p', { class: 'hint', text: 'Loading the members…' })]
    : list.length === 0
      ? [el('p', { class: 'hint', text: 'All your friends are in this group.' })]
      : list.map((f) => el('label', { class: 'member' }, el('input', { type: 'checkbox', value: f.id, checked: ticked.has(f.id) }), f.nickname))));
}

function renderMemberList() {
  const conv = conversations.get(openId);
  if (conv?.chatType !== ChatType.GROUP) return;
  const members = groupMembers.get(conv.peerId) ?? [];
  $('member-list').replaceChildren(...members.map((m) => el('li', {},
    el('span', { class: 'who' }, m.id === session.id ? `${m.nickname} (you)` : m.nickname, el('small', { text: m.role === 'owner' ? 'owner' : m.account })))));
}

function renderPaneHead() {
  const conv = conversations.get(openId);
  const isGroup = conv?.chatType === ChatType.GROUP;
  $('pane-actions').hidden = !conv;
  $('remove-friend').hidden = !conv || isGroup;
  for (const id of ['show-members', 'add-members', 'leave-group']) $(id).hidden = !isGroup;
  const count = isGroup ? groups.get(conv.peerId)?.member_count : undefined;
  $('member-count').hidden = count === undefined;
  $('member-count').textContent = count === undefined ? '' : `${count} ${count === 1 ? 'member' : 'members'}`;
  if (conv) $('conversation-title').textContent = titleOf(conv);
}

function renderHistoryHead() {
  const conv = conversations.get(openId);
  const shown = Boolean(conv?.historyLoaded) && conv.messages.length > 0;
  $('history-head').hidden = !shown;
  $('load-older').hidden = !shown || !conv.hasOlder;
  $('load-older').disabled = Boolean(conv?.loadingOlder);
  $('load-older').setAttribute('aria-busy', String(Boolean(conv?.loadingOlder)));
  $('history-start').hidden = !shown || conv.hasOlder;
}

function renderGroupMembers() {
  const list = [...friends.values()].sort((a, b) => a.nickname.localeCompare(b.nickname));
  $('group-members').replaceChildren(...(list.length === 0
    ? [el('p', { class: 'hint', text: 'Invite friends first; a group is made of friends.' })]
    : list.map((f) => el('label', { class: 'member' }, el('input', { type: 'checkbox', value: f.id }), f.nickname))));
}

// ---- rendering -------------------------------------------------------------------------------

function renderConversations() {
  const list = [...conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity || titleOf(a).localeCompare(titleOf(b)));
  $('conversations').replaceChildren(...list.map((conv) => {
    const title = titleOf(conv);
    const previewId = `preview-${conv.id}`;
    const badgeId = `badge-${conv.id}`;
    const button = el('button', {
      type: 'button', class: 'open', 'aria-label': title, 'aria-describedby': conv.unread > 0 ? `${previewId} ${badgeId}` : previewId,
      'aria-current': conv.id === openId ? 'true' : null,
    },
    el('span', { class: 'name' }, title, conv.chatType === ChatType.GROUP ? el('span', { class: 'kind', text: ' · group' }) : null),
    el('span', { class: 'preview', id: previewId, text: conv.preview || (conv.chatType === ChatType.GROUP ? 'Group chat' : 'Say hello') }));
    button.addEventListener('click', () => openConversation(conv.id));
    const badge = conv.unread > 0
      ? el('span', { class: 'badge', id: badgeId }, conv.unread > 99 ? '99+' : String(conv.unread), el('span', { class: 'visually-hidden', text: ' unread' }))
      : null;
    return el('li', { class: conv.id === openId ? 'active' : null, 'data-conversation': conv.id }, button, badge);
  }));
}

const tickText = { sending: '◷', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

// The message list is updated in place, one node per message, so that the live region announces a
// new message once, rather than the whole conversation at every tick.
const messageNodes = new Map(); // key -> li of the conversation on screen
let messagesShown = null;

function messageKey(m) {
  return m.from === session.id && m.clientMsgId ? `c:${m.clientMsgId}` : `i:${m.id}`;
}

function messageNode(conv, m) {
  const mine = m.from === session.id;
  const time = new Date(m.sentAt);
  const li = el('li', { 'data-key': messageKey(m) },
    !mine && conv.chatType === ChatType.GROUP ? el('span', { class: 'from', text: nameOf(m.from) }) : null,
    el('p', { class: 'text', text: m.content }),
    el('p', { class: 'error', hidden: true }),
    el('span', { class: 'meta' },
      el('time', { datetime: time.toISOString(), text: time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) }),
      mine ? el('span', { class: 'tick', role: 'img' }) : null));
  updateMessageNode(conv, m, li);
  return li;
}

function updateMessageNode(conv, m, li) {
  const mine = m.from === session.id;
  li.className = [mine ? 'mine' : '', m.state === 'failed' ? 'failed' : ''].join(' ').trim();
  if (m.id) li.dataset.id = m.id;
  if (m.seq) li.dataset.seq = String(m.seq);
  const from = li.querySelector('.from');
  if (from && from.textContent !== nameOf(m.from)) from.textContent = nameOf(m.from); // members load after the first messages
  const error = li.querySelector('p.error');
  const errorText = m.error ? `Not sent: ${m.error}` : '';
  if (error.textContent !== errorText) error.textContent = errorText;
  error.hidden = !m.error;
  const tick = li.querySelector('.tick');
  if (tick) {
    const state = conv.tick(m);
    if (tick.getAttribute('aria-label') !== state) {
      tick.className = `tick ${state}`;
      tick.setAttribute('aria-label', state);
      tick.title = m.error ? `Not sent: ${m.error}` : state;
      tick.textContent = tickText[state];
    }
  }
}

/** Draws the open chat's messages; scroll: 'auto' follows the end if the reader is there, 'end' goes there, 'keep' leaves it. */
function renderMessages(scroll = 'auto') {
  const conv = conversations.get(openId);
  const list = $('messages');
  if (!conv || messagesShown !== conv.id) {
    messageNodes.clear();
    list.replaceChildren();
    messagesShown = conv?.id ?? null;
    if (!conv) return;
  }
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  let i = 0;
  for (const m of conv.messages) {
    const key = messageKey(m);
    let node = messageNodes.get(key);
    if (node) updateMessageNode(conv, m, node);
    else {
      node = messageNode(conv, m);
      messageNodes.set(key, node);
    }
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
    i++;
  }
  while (list.children.length > i) {
    messageNodes.delete(list.lastElementChild.dataset.key);
    list.lastElementChild.remove();
  }
  if (scroll === 'end' || (scroll === 'auto' && atEnd)) list.scrollTop = list.scrollHeight;
}

function showConnectionState(state, detail) {
  const status = $('connection-status');
  status.className = `status ${state === 'online' ? 'online' : 'offline'}`;
  status.textContent = { online: 'Online', connecting: 'Connecting…', stopped: 'Offline' }[state] ?? 'Reconnecting…';
  status.title = detail ?? '';
}

// Network trouble on demand, for tests and the curious at the console: drop the socket and watch the
// client come back by itself, or hold it offline (unsent messages and receipts wait) until resumed.
window.easyim = {
  dropConnection: () => connection?.drop(),
  pauseConnection: () => connection?.stop(),
  resumeConnection: () => connection?.start(),
};

// ---- start -----------------------------------------------------------------------------------

const saved = sessionStorage.getItem(SESSION_KEY);
if (saved) {
  try {
    startSession(JSON.parse(saved));
  } catch {
    endSession('');
  }
} else {
  endSession('');
}
