namespace EasyIm.Contracts.Friends;

/// <summary>Sent by the invitee. Replies <see cref="FriendRequestDeclined"/> or <see cref="RequestRejected"/>.</summary>
public sealed record RejectFriendRequest(long UserId, long RequestId);
