// The HTTP API on the page's own origin (the gateway serves both), so a proxy in front needs no
// extra route and the browser needs no CORS.

/** Messages per history page (the server allows up to 200). */
export const HISTORY_PAGE = 50;

export class ApiError extends Error {
  constructor(message, code, field) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

export class Api {
  constructor(getToken) {
    this.getToken = getToken;
  }

  async call(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError('The server cannot be reached; try again in a moment.', 0);
    }
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      // Not the API's envelope (a proxy's error page, say): the status says enough.
    }
    if (!response.ok || !envelope || envelope.code !== 200) {
      const message = envelope?.msg || `${response.status} ${response.statusText}`;
      throw new ApiError(message, envelope?.code ?? response.status, envelope?.data?.field);
    }
    return envelope.data ?? {};
  }

  get(path, query = {}) {
    const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null));
    const text = params.toString();
    return this.call('GET', text ? `${path}?${text}` : path);
  }

  post(path, body = {}) {
    return this.call('POST', path, body);
  }

  register(account, password, nickname) {
    return this.post('/api/user/register', nickname ? { account, password, nickname } : { account, password });
  }
  login(account, password) { return this.post('/api/user/login', { account, password }); }
  logout() { return this.post('/api/user/logout'); }
  // Rotates the refresh token: the answer's refresh_token replaces the one sent, which stops working.
  refresh(refreshToken) { return this.post('/api/user/refresh_token', { grant_type: 'access_token', refresh_token: refreshToken }); }
  search(keyword) { return this.get('/api/user/search', { keyword }); }
  friends() { return this.get('/api/user/friends'); }
  invite(userId) { return this.post('/api/user/friend/add', { to_user_id: userId }); }
  requests() { return this.get('/api/user/friend/requests'); }
  accept(requestId) { return this.post('/api/user/friend/accept', { id: requestId }); }
  reject(requestId) { return this.post('/api/user/friend/reject', { id: requestId }); }
  removeFriend(friendId) { return this.post('/api/user/friend/remove', { friend_id: friendId }); }
  groups() { return this.get('/api/group/list'); }
  // The newest position of my update stream (last), and no events: a page after the largest position there is.
  streamHead() { return this.get('/api/user/updates', { after: '9223372036854775807', limit: 1 }); }
  createGroup(name, memberIds) { return this.post('/api/group/create', { name, member_ids: memberIds }); }
  groupMembers(groupId) { return this.get('/api/group/members', { group_id: groupId }); }
  inviteToGroup(groupId, userIds) { return this.post('/api/group/invite', { group_id: groupId, user_ids: userIds }); }
  leaveGroup(groupId) { return this.post('/api/group/leave', { group_id: groupId }); }
  conversations() { return this.get('/api/chat/conversations'); }
  /** Newest first: the `limit` messages before `beforeSeq` (the newest ones without it). */
  history(conversationId, beforeSeq, limit = HISTORY_PAGE) {
    return this.get('/api/chat/history', { conversation_id: conversationId, before_seq: beforeSeq, limit });
  }
}
