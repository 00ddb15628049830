"""REST endpoints of the users context: thin — parse, call a service or selector, render.

Registration, login and refresh are public and read no Authorization header (a stale token must not
block logging in again); everything else needs a valid access token. A customer only ever reaches
their own account, through /users/me/: there is no user-by-id endpoint outside the staff listing.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.users import selectors, services
from contexts.users.data import EmailTaken, InvalidCredentials, TokenExpired, TokenInvalid, TokenRevoked
from contexts.users.serializers import (
    PasswordChangeSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    StaffUserQuerySerializer,
    StaffUserSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from integration.edge import ratelimit
from integration.edge.permissions import IsStaff
from integration.edge.ratelimit import ApiRateThrottle, LoginRateThrottle, RegisterRateThrottle
from integration.edge.schema import problems


def _tokens(pair) -> Response:
    return Response(TokenPairSerializer(pair).data)


class _PublicApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]


class UserRegisterApi(_PublicApi):
    throttle_classes = [ApiRateThrottle, RegisterRateThrottle]

    @extend_schema(
        request=RegisterSerializer, responses={201: UserSerializer, **problems(EmailTaken)}, auth=[]
    )
    def post(self, request):
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.user_register(**body.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(_PublicApi):
    throttle_classes = [ApiRateThrottle, LoginRateThrottle]

    @extend_schema(
        request=TokenObtainSerializer,
        responses={200: TokenPairSerializer, **problems(InvalidCredentials)},
        auth=[],
    )
    def post(self, request):
        body = TokenObtainSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _tokens(services.token_obtain(**body.validated_data))


class TokenRefreshApi(_PublicApi):
    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **problems(TokenInvalid, TokenExpired, TokenRevoked)},
        auth=[],
    )
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _tokens(services.token_refresh(refresh=body.validated_data["refresh"]))


class LogoutApi(APIView):
    """Revoke this request's access token and the given refresh token, at once and everywhere."""

    @extend_schema(request=RefreshSerializer, responses={204: None})
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.token_logout(
            user_id=request.user.id, access_claims=request.auth, refresh=body.validated_data["refresh"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(APIView):
    """Revoke every token of the caller, on every device."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.user_tokens_revoke_all(user_id=request.user.id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserMeApi(APIView):
    @extend_schema(responses={200: UserSerializer})
    def get(self, request):
        return Response(UserSerializer(selectors.user_get(user_id=request.user.id)).data)

    @extend_schema(request=ProfileUpdateSerializer, responses={200: UserSerializer})
    def patch(self, request):
        body = ProfileUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        user = services.user_profile_update(user_id=request.user.id, changes=body.changes())
        return Response(UserSerializer(user).data)


class PasswordGuessThrottle(ratelimit.BucketThrottle):
    """The current password is checked here as at login: each attempt spends the account's one
    password-guessing budget (shared with both login doors), so a stolen access token cannot be used
    to guess the password faster than a login could."""

    def buckets(self, request, view):
        return ratelimit.account_buckets(selectors.user_get(user_id=request.user.id).email)


class UserPasswordChangeApi(APIView):
    """Change the password: every token of the user is revoked; the answer is a fresh pair."""

    throttle_classes = [ApiRateThrottle, PasswordGuessThrottle]

    @extend_schema(request=PasswordChangeSerializer, responses={200: TokenPairSerializer})
    def post(self, request):
        body = PasswordChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _tokens(services.user_password_change(user_id=request.user.id, **body.validated_data))


class StaffUserListApi(GenericAPIView):
    """Operators: every account, newest first, searchable by email or name."""

    permission_classes = [IsStaff]
    serializer_class = StaffUserSerializer

    @extend_schema(parameters=[StaffUserQuerySerializer])
    def get(self, request):
        query = StaffUserQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.user_list(search=query.validated_data["search"]))
        return self.get_paginated_response(StaffUserSerializer(page, many=True).data)
