namespace EasyIm.Contracts.Friends;

/// <summary>Sent by the invitee, naming the request or the inviter. Replies <see cref="FriendRequestAccepted"/> or <see cref="RequestRejected"/>.</summary>
public sealed record AcceptFriendRequest(long UserId, long? RequestId, long? InviterId);
