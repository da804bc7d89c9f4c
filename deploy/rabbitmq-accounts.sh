#!/usr/bin/env bash
# One RabbitMQ account per service (issue 16), through the broker's management HTTP API: makes the virtual host,
# and the users easyim_auth, easyim_friends, easyim_messaging and easyim_gateway with permissions on exactly the
# exchanges and queues each service declares, publishes or sends to, and consumes. Compose runs it before the
# services start (the one-shot `rabbitmq-accounts` service); run it again after a password changes: it sets every
# account's password and permissions to what is here each time, and changes nothing else.
#
#   EASYIM_RABBITMQ_ADMIN_PASSWORD=... EASYIM_RABBITMQ_AUTH_PASSWORD=... EASYIM_RABBITMQ_FRIENDS_PASSWORD=... \
#   EASYIM_RABBITMQ_MESSAGING_PASSWORD=... EASYIM_RABBITMQ_GATEWAY_PASSWORD=... deploy/rabbitmq-accounts.sh
#
# Optional: EASYIM_RABBITMQ_API (the management API, default http://rabbitmq:15672), EASYIM_RABBITMQ_ADMIN_USER (an
# administrator, default easyim), EASYIM_RABBITMQ_VHOST (default /), EASYIM_RABBITMQ_USER_PREFIX (default easyim_:
# users are broker-wide, so two deployments on one broker take different prefixes), EASYIM_RABBITMQ_WAIT (seconds to
# wait for the API, default 120). Passwords are read from the environment only (never the command line).
#
# How RabbitMQ checks (https://www.rabbitmq.com/docs/access-control): each permission is a regular expression on the
# name of an exchange or queue, and one name may be both (MassTransit names an endpoint's exchange and queue alike).
# configure: declare or delete it; write: publish to an exchange, or be the destination of a binding; read: consume
# from a queue, or be the source of a binding. What MassTransit (8.x) does with them:
#   - a receive endpoint `x` declares exchange and queue `x` and binds them, declares the exchange of every message
#     type it consumes (`Namespace:Type`) and binds it to `x`: configure and write on `x`, configure and read on the
#     types; a failed message goes to `x_error`, one nobody consumes to `x_skipped` (declared then and there);
#   - publishing a type declares its exchange first and publishes there: configure and write on the type;
#   - sending to an endpoint (`exchange:x`) declares exchange `x` and publishes there: configure and write on `x`;
#   - a request's reply is sent to the asker's bus endpoint, a temporary queue of each process: `<service>_bus_<id>` for a
#     process that runs one service (EasyIm's BusSetup names it so; MassTransit's own name has the host instead);
#   - a consumer that throws publishes a fault, `MassTransit:Fault--<type>--` bound to `MassTransit:Fault`.
# Temporary queues (bus endpoints, gateway-<id>, presence) are exclusive: no other connection may consume or delete them.
# So a service may publish only the types listed as its own below: a gateway cannot publish PushToUsers,
# UserTokensRevoked or messaging's heartbeats, messaging cannot publish auth's events; and it may consume only from
# its own queues. docs/architecture.md ("Security model") lists what the names still allow.
set -euo pipefail

api=${EASYIM_RABBITMQ_API:-http://rabbitmq:15672}
api=${api%/}
admin_user=${EASYIM_RABBITMQ_ADMIN_USER:-easyim}
admin_password=${EASYIM_RABBITMQ_ADMIN_PASSWORD:?set EASYIM_RABBITMQ_ADMIN_PASSWORD (the broker administrator of EASYIM_RABBITMQ_API)}
vhost=${EASYIM_RABBITMQ_VHOST:-/}
prefix=${EASYIM_RABBITMQ_USER_PREFIX:-easyim_}
wait_seconds=${EASYIM_RABBITMQ_WAIT:-120}
services=(auth friends messaging gateway)
for service in "${services[@]}"; do
  variable="EASYIM_RABBITMQ_${service^^}_PASSWORD"
  [ -n "${!variable:-}" ] || { echo "rabbitmq-accounts: set $variable (the password of ${prefix}${service})" >&2; exit 2; }
done

# --- What each service may name --------------------------------------------------------------------------------
c='EasyIm\.Contracts'
# The bus endpoint (reply queue) of a process of one service.
bus() { printf '%s_bus_[0-9a-f]+' "$1"; }

# Per service: `own` its receive endpoints (each with its _error and _skipped) and its bus endpoint, `consumes` the
# message types bound to them, `publishes` the types it publishes (events, and requests: a request client publishes
# its request), `sends` the endpoints of others it sends to directly (replies included). A consumer's faults are
# published under the type it consumes (`faults`, what it consumes unless said); nobody consumes faults, and faults of
# requests go back to the asker instead (those that carry a secret not even that: BusSecrets).

# auth: answers the gateway's account requests and friends' profile lookups; announces registrations and revocations.
auth_own=(register-user login-user logout-user check-token refresh-token validate-access-token get-user-profiles check-sessions "$(bus auth)")
auth_consumes=("$c\.Auth:(?:RegisterUser|LoginUser|LogoutUser|CheckToken|RefreshToken|ValidateAccessToken|GetUserProfiles|CheckSessions)")
auth_publishes=("$c\.Auth:(?:UserRegistered|UserTokensRevoked|UserSessionRevoked)")
# Replies to the gateway's requests and to friends' profile lookups.
auth_sends=("$(bus gateway)" "$(bus friends)")

# friends: answers the gateway's friend and group requests and messaging's relationship checks; keeps presence (a
# temporary queue per process); projects its changes into messaging (requests), hands its events to messaging's update
# streams (AppendStreamUpdates) and pushes its answers (pending invitations) to users.
friends_own=(send-friend-request accept-friend-request reject-friend-request remove-friend list-friends list-friend-requests
  search-users create-group invite-to-group leave-group remove-from-group list-groups list-group-members update-group-settings
  project-registered-user push-pending-invitations check-relationships block-list 'track-gateway-presence-[0-9a-f]+' "$(bus friends)")
friends_consumes=("$c\.Friends:(?:SendFriendRequest|AcceptFriendRequest|RejectFriendRequest|RemoveFriend|ListFriends|ListFriendRequests|SearchUsers|CreateGroup|InviteToGroup|LeaveGroup|RemoveFromGroup|ListGroups|ListGroupMembers|UpdateGroupSettings|CheckRelationships|BlockUser|UnblockUser|ListBlockedUsers)"
  "$c\.Auth:UserRegistered"
  "$c\.Gateway:(?:UserConnected|UserDisconnected|GatewayPresenceReported|GatewayHeartbeat)")
friends_publishes=("$c\.Friends:(?:FriendshipCreated|FriendshipRemoved|GroupMemberAdded|GroupMemberRemoved|UserBlockChanged)"
  "$c\.Messaging:(?:ApplyFriendship|ApplyGroupMembers|AppendStreamUpdates)"
  "$c\.Auth:GetUserProfiles"
  "$c\.Gateway:(?:PushToUsers|ReportGatewayPresence)")
# Pushes for users whose gateway presence knows go to that gateway's own endpoint; replies to the gateway and to
# messaging's relationship checks.
friends_sends=('gateway-[A-Za-z0-9_.-]+' "$(bus gateway)" "$(bus messaging)")

# messaging: the chat partitions (gateways send batches there) and the gateway's chat requests; projections of
# friendships and groups; presence and its replicas' membership (temporary queues per process); pushes to users.
messaging_own=('messaging-chat-[0-9]+' record-receipts sync-connected-user sync-conversations relay-typing get-history get-receipt-cursors
  list-conversations project-friendships project-group-members append-stream-updates get-user-updates 'track-presence-[0-9a-f]+' 'track-messaging-instances-[0-9a-f]+'
  "$(bus messaging)")
messaging_consumes=("$c\.Messaging:(?:RecordReceipts|SyncConversations|RelayTyping|GetHistory|GetReceiptCursors|ListConversations|ApplyFriendship|ApplyGroupMembers|MessagingInstanceHeartbeat|AppendStreamUpdates|GetUserUpdates)"
  "$c\.Friends:(?:FriendshipCreated|FriendshipRemoved|GroupMemberAdded|GroupMemberRemoved|UserBlockChanged)"
  "$c\.Gateway:(?:UserConnected|UserDisconnected|GatewayPresenceReported|GatewayHeartbeat)")
messaging_publishes=("$c\.Messaging:MessagingInstanceHeartbeat"
  "$c\.Friends:CheckRelationships"
  "$c\.Gateway:(?:PushToUsers|ReportGatewayPresence)")
# The chat partitions take no message type's exchange (gateways send to them), but their faults are SubmitChatMessages'.
messaging_faults=("${messaging_consumes[@]}" "$c\.Messaging:SubmitChatMessages")
# Pushes to the gateways' own endpoints; replies to the gateway and to friends' projections.
messaging_sends=('gateway-[A-Za-z0-9_.-]+' "$(bus gateway)" "$(bus friends)")

# gateway: its own temporary endpoint gateway-<id> (pushes, revocations, presence reports); asks auth, friends and
# messaging on its clients' behalf; reports its connections; sends chat batches to messaging's partitions.
gateway_own=('gateway-[A-Za-z0-9_.-]+' "$(bus gateway)")
gateway_consumes=("$c\.Gateway:(?:PushToUsers|ReportGatewayPresence)"
  "$c\.Auth:(?:UserTokensRevoked|UserSessionRevoked)")
gateway_publishes=("$c\.Auth:(?:RegisterUser|LoginUser|LogoutUser|CheckToken|RefreshToken|ValidateAccessToken|CheckSessions)"
  "$c\.Friends:(?:SendFriendRequest|AcceptFriendRequest|RejectFriendRequest|RemoveFriend|ListFriends|ListFriendRequests|SearchUsers|CreateGroup|InviteToGroup|LeaveGroup|RemoveFromGroup|ListGroups|ListGroupMembers|UpdateGroupSettings|BlockUser|UnblockUser|ListBlockedUsers)"
  "$c\.Messaging:(?:RecordReceipts|SyncConversations|RelayTyping|GetHistory|GetReceiptCursors|ListConversations|GetUserUpdates)"
  "$c\.Gateway:(?:UserConnected|UserDisconnected|GatewayPresenceReported|GatewayHeartbeat)")
# Chat batches to messaging's partitions. It answers no requests.
gateway_sends=('messaging-chat-[0-9]+')

# ^(?:a|b|...)$: exactly one of the names.
one_of() { local IFS='|'; printf '^(?:%s)$' "$*"; }

permissions() {
  local -n own=$1_own consumes=$1_consumes publishes=$1_publishes sends=$1_sends
  local endpoints faults
  endpoints="(?:$(IFS='|'; printf '%s' "${own[*]}"))(?:_error|_skipped)?"
  if declare -p "$1_faults" >/dev/null 2>&1; then local -n faulted=$1_faults; else local -n faulted=$1_consumes; fi
  faults="MassTransit:Fault--(?:$(IFS='|'; printf '%s' "${faulted[*]}"))--"
  # configure: declare (and delete) its endpoints, the types it consumes or publishes, the endpoints it sends to, its faults.
  configure=$(one_of "$endpoints" "${consumes[@]}" "${publishes[@]}" "${sends[@]}" "$faults" 'MassTransit:Fault')
  # write: publish its types, its faults and to the endpoints it sends to; bind into its endpoints (and its faults'
  # exchanges into MassTransit:Fault).
  write=$(one_of "$endpoints" "${publishes[@]}" "${sends[@]}" "$faults" 'MassTransit:Fault')
  # read: consume its queues; bind from the types it consumes (and from its faults' exchanges). Not MassTransit:Fault,
  # where every service's faults meet, nor anyone else's faults.
  read=$(one_of "$endpoints" "${consumes[@]}" "$faults")
}

# --- The management API ----------------------------------------------------------------------------------------
json() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

urlencode() {
  local s=$1 out='' ch i
  for ((i = 0; i < ${#s}; i++)); do
    ch=${s:i:1}
    case $ch in
      [A-Za-z0-9._~-]) out+=$ch ;;
      *) printf -v ch '%%%02X' "'$ch"; out+=$ch ;;
    esac
  done
  printf '%s' "$out"
}

# call METHOD PATH [BODY]: the body on stdin and the credentials in a config file descriptor, so that no password is
# on a command line. Prints the HTTP status.
call() {
  local body=${3:-}
  printf '%s' "$body" | curl -sS -o "$answer" -w '%{http_code}' -X "$1" \
    -K <(printf 'user = "%s:%s"\n' "${admin_user//\"/\\\"}" "${admin_password//\"/\\\"}") \
    -H 'content-type: application/json' ${body:+--data-binary @-} "$api/api/$2" || echo 000
}

must() {
  local status
  status=$(call "$@")
  case $status in
    2??) ;;
    *) echo "rabbitmq-accounts: $1 $api/api/$2 answered $status: $(cat "$answer" 2>/dev/null)" >&2; exit 1 ;;
  esac
}
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

deadline=$((SECONDS + wait_seconds))
while :; do
  status=$(call GET overview)
  case $status in
    200) break ;;
    401) echo "rabbitmq-accounts: $api refused $admin_user's credentials (EASYIM_RABBITMQ_ADMIN_USER / _PASSWORD)" >&2; exit 1 ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "rabbitmq-accounts: no answer from the management API at $api for ${wait_seconds}s (last status $status)" >&2
    exit 1
  fi
  sleep 1
done

v=$(urlencode "$vhost")
must PUT "vhosts/$v" '{}'
for service in "${services[@]}"; do
  user="$prefix$service"
  variable="EASYIM_RABBITMQ_${service^^}_PASSWORD"
  permissions "$service"
  must PUT "users/$(urlencode "$user")" "{\"password\":$(json "${!variable}"),\"tags\":\"\"}"
  must PUT "permissions/$v/$(urlencode "$user")" \
    "{\"configure\":$(json "$configure"),\"write\":$(json "$write"),\"read\":$(json "$read")}"
  echo "rabbitmq-accounts: $user on vhost $vhost"
done
